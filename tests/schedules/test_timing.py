"""When schedules run (schedules/timing.py): pure arithmetic, no clock, no database."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from celery import schedules

from schedules.defaults import DefaultSchedule
from schedules.timing import (
    StaggeredInterval,
    ZonedCrontab,
    cron_spread,
    runs_after,
    runs_between,
    stagger_offset,
    wall_to_instant,
)

UTC = dt.UTC
NY = zoneinfo.ZoneInfo("America/New_York")
LORD_HOWE = zoneinfo.ZoneInfo("Australia/Lord_Howe")  # moves its clock by 30 minutes


def wall(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute)  # noqa: DTZ001  (a local wall time is naive by design)


def local(runs: list[dt.datetime], tz: zoneinfo.ZoneInfo) -> list[str]:
    return [r.astimezone(tz).strftime("%m-%d %H:%M %Z") for r in runs]


def test_a_missing_local_time_maps_to_the_transition_and_a_repeated_one_to_its_first() -> None:
    assert wall_to_instant(wall(2027, 3, 14, 2, 30), NY) == dt.datetime(
        2027, 3, 14, 7, 0, tzinfo=UTC
    )
    assert wall_to_instant(wall(2027, 11, 7, 1, 30), NY) == dt.datetime(
        2027, 11, 7, 5, 30, tzinfo=UTC
    )
    # Lord Howe springs forward 02:00 -> 02:30: 02:15 runs at 02:30 (15:30 UTC the day before).
    assert wall_to_instant(wall(2027, 10, 3, 2, 15), LORD_HOWE) == dt.datetime(
        2027, 10, 2, 15, 30, tzinfo=UTC
    )


def test_every_quarter_hour_across_both_nights_runs_each_instant_once() -> None:
    quarter = ZonedCrontab(schedules.crontab(minute="*/15", hour="1-2"), NY)
    spring = runs_after(quarter, dt.datetime(2027, 3, 14, 0, 50, tzinfo=NY), 6)
    assert local(spring, NY) == [
        "03-14 01:00 EST", "03-14 01:15 EST", "03-14 01:30 EST", "03-14 01:45 EST",
        "03-14 03:00 EDT", "03-15 01:00 EDT",
    ]  # fmt: skip
    fall = runs_after(quarter, dt.datetime(2027, 11, 7, 0, 50, tzinfo=NY), 9)
    assert local(fall, NY) == [
        "11-07 01:00 EDT", "11-07 01:15 EDT", "11-07 01:30 EDT", "11-07 01:45 EDT",
        "11-07 02:00 EST", "11-07 02:15 EST", "11-07 02:30 EST", "11-07 02:45 EST",
        "11-08 01:00 EST",
    ]  # fmt: skip


def test_day_of_week_month_and_leap_day_fields() -> None:
    weekdays = ZonedCrontab(schedules.crontab(minute="0", hour="9", day_of_week="mon-fri"), NY)
    runs = runs_after(weekdays, dt.datetime(2027, 1, 1, 12, tzinfo=NY), 3)  # a Friday
    assert local(runs, NY) == ["01-04 09:00 EST", "01-05 09:00 EST", "01-06 09:00 EST"]
    leap = ZonedCrontab(
        schedules.crontab(minute="0", hour="0", day_of_month="29", month_of_year="2"), NY
    )
    assert local(runs_after(leap, dt.datetime(2027, 1, 1, tzinfo=NY), 1), NY) == ["02-29 00:00 EST"]


def test_stagger_is_stable_within_its_window_and_off_by_default() -> None:
    offsets = {s: stagger_offset(s, 600) for s in ("acme", "globex", "initech")}
    assert offsets == {s: stagger_offset(s, 600) for s in offsets}
    assert all(0 <= o < 600 for o in offsets.values()) and len(set(offsets.values())) == 3
    assert stagger_offset("acme", 0) == 0 and stagger_offset("public", 600) == 0
    night = ZonedCrontab(schedules.crontab(minute="0", hour="2"), NY, offset_s=offsets["acme"])
    first = runs_after(night, dt.datetime(2027, 1, 1, tzinfo=NY), 1)[0]
    assert first - dt.datetime(2027, 1, 1, 2, tzinfo=NY) == dt.timedelta(seconds=offsets["acme"])


def test_a_staggered_interval_keeps_its_grid_whenever_it_last_ran() -> None:
    hourly = StaggeredInterval(dt.timedelta(hours=1), offset_s=125)
    after = [hourly.next_after(dt.datetime(2027, 1, 1, 5, m, tzinfo=UTC)) for m in (0, 1, 2, 3, 30)]
    assert [t.strftime("%H:%M:%S") for t in after] == [
        "05:02:05", "05:02:05", "05:02:05", "06:02:05", "06:02:05",
    ]  # fmt: skip


def test_missed_runs_are_listed_up_to_a_limit() -> None:
    minutely = ZonedCrontab(schedules.crontab(minute="*"), NY)
    start = dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert len(runs_between(minutely, start, start + dt.timedelta(minutes=10))) == 10
    assert len(runs_between(minutely, start, start + dt.timedelta(days=2), limit=100)) == 100


def test_a_spread_cron_is_stable_per_tenant_inside_its_window_and_tenants_differ() -> None:
    times = {}
    for i in range(200):
        spread = cron_spread("0 1 * * 0", f"t{i}", 240)
        minute, hour, *rest = spread.split()
        assert rest == ["*", "*", "0"]
        at = int(hour) * 60 + int(minute)
        assert 60 <= at < 60 + 240
        assert cron_spread("0 1 * * 0", f"t{i}", 240) == spread
        times[i] = at
    assert len(set(times.values())) > 100  # spread out, not bunched
    with pytest.raises(ValueError, match="before midnight"):
        DefaultSchedule(name="late", task="x", cron="0 23 * * *", description="",
                        spread_minutes=120)  # fmt: skip
