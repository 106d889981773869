"""When a schedule runs: the arithmetic beat and the admin share (flow 2 of docs/architecture.md).

Crontabs are evaluated in their own time zone with `zoneinfo`, minute by minute of *local* wall
time, then mapped to an instant:

- a wall time that does not exist that day (spring forward) runs once, at the first valid instant
  after it — the transition itself (02:30 on a 02:00→03:00 night runs at 03:00);
- a wall time that occurs twice (fall back) runs once, at its first occurrence.

Celery's own crontab computes with fixed offsets and gets both wrong around transitions.

Stagger: a tenant's stable offset (from its schema name) is added to its crontab and interval
runs, so that "every night at 02:00" does not fire every tenant in the same second.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

from celery import schedules
from django.conf import settings

UTC = dt.UTC
# The furthest ahead a crontab is searched: long enough for "29 February, a Monday".
SEARCH_DAYS = 366 * 28


def stagger_offset(schema_name: str, window_s: int | None = None) -> int:
    """A tenant's stable offset in seconds, within [0, window); 0 when stagger is off."""
    window = settings.BEAT_STAGGER_WINDOW_S if window_s is None else window_s
    if window <= 0 or schema_name == settings.PUBLIC_SCHEMA_NAME:
        return 0
    digest = hashlib.sha256(schema_name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % window


def cron_spread(cron: str, schema_name: str, spread_minutes: int) -> str:
    """`cron` (one minute, one hour) moved later by the tenant's stable offset within
    [0, spread_minutes): the same tenant always gets the same time, tenants spread evenly."""
    minute, hour, *rest = cron.split()
    digest = hashlib.sha256(f"spread:{schema_name}".encode()).digest()
    start = int(hour) * 60 + int(minute) + int.from_bytes(digest[:8], "big") % spread_minutes
    return " ".join([str(start % 60), str(start // 60), *rest])


def wall_to_instant(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant a local wall time (naive) stands for, by the two DST rules above."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists; fold=0 is its first occurrence when it occurs twice
    # In a gap, fold=0 reads the wall time with the offset before the transition and fold=1 with
    # the one after: the transition lies between the two instants. Find it to the second.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = first
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


class CronFields(Protocol):
    """What a parsed `celery.schedules.crontab` holds (its stub declares none of it): each field
    as the set of values it matches, and as written."""

    minute: set[int]
    hour: set[int]
    day_of_week: set[int]
    day_of_month: set[int]
    month_of_year: set[int]
    _orig_minute: str
    _orig_hour: str
    _orig_day_of_week: str
    _orig_day_of_month: str
    _orig_month_of_year: str


class ZonedCrontab(schedules.BaseSchedule):
    """A crontab evaluated in `tz` with the DST rules above, plus an optional stagger offset."""

    nowfun: Callable[[], dt.datetime] | None

    def __init__(
        self,
        fields: schedules.crontab,
        tz: zoneinfo.ZoneInfo,
        offset_s: int = 0,
        nowfun: Callable[[], dt.datetime] | None = None,
        app: Any = None,
    ) -> None:
        super().__init__(nowfun=nowfun, app=app)
        self.fields = cast(CronFields, fields)
        self.zone = tz
        self.offset = dt.timedelta(seconds=offset_s)
        self._minutes = sorted(self.fields.minute)
        self._hours = sorted(self.fields.hour)

    def __repr__(self) -> str:
        f = self.fields
        return (
            f"<ZonedCrontab {f._orig_minute} {f._orig_hour} {f._orig_day_of_month} "
            f"{f._orig_month_of_year} {f._orig_day_of_week} {self.zone.key} +{self.offset}>"
        )

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, ZonedCrontab):
            return NotImplemented
        return (repr(self), self.nowfun) == (repr(other), other.nowfun)

    def __hash__(self) -> int:
        return hash(repr(self))

    def _day_matches(self, day: dt.date) -> bool:
        f = self.fields
        # Celery's day_of_week counts from Sunday = 0.
        return (
            day.month in f.month_of_year
            and day.day in f.day_of_month
            and day.isoweekday() % 7 in f.day_of_week
        )

    def occurs_within(self, days: int, start: dt.date) -> bool:
        """Does any day from `start` on, for `days` days, match the day fields?"""
        return any(self._day_matches(start + dt.timedelta(days=n)) for n in range(days))

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        """The first run strictly after `after` (aware), as a UTC instant; None if never."""
        base_after = after.astimezone(UTC) - self.offset
        start = base_after.astimezone(self.zone).replace(tzinfo=None, second=0, microsecond=0)
        day = start.date()
        for _ in range(SEARCH_DAYS):
            if self._day_matches(day):
                first_day = day == start.date()
                # On the first day, start at the first hour (and minute) not before `start`.
                hours = (
                    self._hours[bisect.bisect_left(self._hours, start.hour) :]
                    if first_day
                    else self._hours
                )
                for hour in hours:
                    same_hour = first_day and hour == start.hour
                    minutes = (
                        self._minutes[bisect.bisect_left(self._minutes, start.minute) :]
                        if same_hour
                        else self._minutes
                    )
                    for minute in minutes:
                        wall = dt.datetime.combine(day, dt.time(hour, minute))
                        instant = wall_to_instant(wall, self.zone)
                        if instant > base_after:
                            return instant + self.offset
            day += dt.timedelta(days=1)
        return None

    def remaining_estimate(self, last_run_at: dt.datetime) -> dt.timedelta:
        following = self.next_after(last_run_at)
        if following is None:
            return dt.timedelta(days=SEARCH_DAYS)
        return following - self.now()

    def is_due(self, last_run_at: dt.datetime) -> schedules.schedstate:
        now = self.now()
        following = self.next_after(last_run_at)
        if following is None:
            return schedules.schedstate(False, 3600.0)
        if following <= now:
            after_now = self.next_after(now)
            wait = (after_now - now).total_seconds() if after_now else 3600.0
            return schedules.schedstate(True, wait)
        return schedules.schedstate(False, (following - now).total_seconds())


class StaggeredInterval(schedules.schedule):
    run_every: dt.timedelta

    """Every `run_every`, on a grid shifted by the tenant's offset (stable across restarts)."""

    def __init__(
        self,
        run_every: dt.timedelta,
        offset_s: int,
        nowfun: Callable[[], dt.datetime] | None = None,
        app: Any = None,
    ) -> None:
        super().__init__(run_every=run_every, nowfun=nowfun, app=app)
        self.offset = dt.timedelta(seconds=offset_s % max(1, int(run_every.total_seconds())))

    def next_after(self, after: dt.datetime) -> dt.datetime:
        epoch = dt.datetime(2000, 1, 1, tzinfo=UTC) + self.offset
        steps = (after.astimezone(UTC) - epoch) // self.run_every + 1
        return epoch + steps * self.run_every

    def remaining_estimate(self, last_run_at: dt.datetime) -> dt.timedelta:
        return self.next_after(last_run_at) - self.now()

    def is_due(self, last_run_at: dt.datetime) -> schedules.schedstate:
        now = self.now()
        following = self.next_after(last_run_at)
        if following <= now:
            return schedules.schedstate(True, (self.next_after(now) - now).total_seconds())
        return schedules.schedstate(False, (following - now).total_seconds())


def next_run(schedule: Any, after: dt.datetime) -> dt.datetime | None:
    """The first run of any beat schedule strictly after `after`."""
    if hasattr(schedule, "next_after"):
        return schedule.next_after(after)
    if isinstance(schedule, schedules.schedule):  # a plain interval: relative to the last run
        return after + cast(dt.timedelta, schedule.run_every)  # type: ignore[attr-defined]
    try:
        return schedule.now() + schedule.remaining_estimate(after)
    except (AttributeError, TypeError, NotImplementedError):
        return None


def runs_after(schedule: Any, after: dt.datetime, count: int) -> list[dt.datetime]:
    """The next `count` runs after `after` (a preview)."""
    return list(_runs(schedule, after, until=None, limit=count))


def runs_between(
    schedule: Any, after: dt.datetime, until: dt.datetime, limit: int = 1000
) -> list[dt.datetime]:
    """Runs in (after, until], at most `limit` of them."""
    return list(_runs(schedule, after, until=until, limit=limit))


def _runs(
    schedule: Any, after: dt.datetime, until: dt.datetime | None, limit: int
) -> Iterator[dt.datetime]:
    current = after
    for _ in range(limit):
        following = next_run(schedule, current)
        if following is None or following <= current or (until and following > until):
            return
        yield following
        current = following
