"""The scheduler's tick against the real database with a controlled clock: time zones, both
daylight-saving transitions, stagger, missed runs, time zone moves and the overview read model.

Each test runs in a rolled-back transaction, so what beat sends is held for a commit that never
comes (the real sends are covered in test_beat.py); what is asserted is the run state beat wrote
to each schema's rows — the record of each run it sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context

from beat.leadership import LEADER_KEY, Hold
from beat.models import ScheduleSummary
from beat.scheduler import TenantScheduler
from saas.celery import app
from schedules.models import ScheduleState
from schedules.services import tenant_crontabs_move
from schedules.timing import stagger_offset
from tenants.models import Tenant
from tests import worker_tasks  # noqa: F401  (registers the task these schedules name)
from tests.helpers import at, cron_task, runs, tick_until_idle

pytestmark = pytest.mark.django_db
UTC = dt.UTC
TASK = "tests.worker_tasks.record_schema"


NY = "America/New_York"


def test_a_crontab_runs_at_its_local_time_in_each_tenant(clock: Any) -> None:
    clock(dt.datetime(2027, 1, 10, 1, 0, tzinfo=UTC))
    last = dt.datetime(2027, 1, 10, 0, 30, tzinfo=UTC)
    cron_task("acme", "beat-local", "0 8 * * *", "Europe/Paris", last)
    cron_task("globex", "beat-local", "0 8 * * *", NY, last)
    s = TenantScheduler(app=app)
    at(clock, s, dt.datetime(2027, 1, 10, 7, 0, 30, tzinfo=UTC))  # 08:00 in Paris
    assert runs("acme", "beat-local")[0] == 1 and runs("globex", "beat-local")[0] == 0
    at(clock, s, dt.datetime(2027, 1, 10, 13, 0, 30, tzinfo=UTC))  # 08:00 in New York
    assert runs("acme", "beat-local")[0] == 1 and runs("globex", "beat-local")[0] == 1


def test_spring_forward_a_missing_time_runs_once_at_the_first_valid_instant(clock: Any) -> None:
    # 2027-03-14 in New York: 02:00 EST jumps to 03:00 EDT (07:00 UTC); 02:30 does not exist.
    clock(dt.datetime(2027, 3, 14, 6, 0, tzinfo=UTC))
    cron_task("acme", "beat-dst", "30 2 * * *", NY, dt.datetime(2027, 3, 13, 8, 0, tzinfo=UTC))
    s = TenantScheduler(app=app)
    at(clock, s, dt.datetime(2027, 3, 14, 6, 59, 50, tzinfo=UTC))  # 01:59:50 EST
    assert runs("acme", "beat-dst")[0] == 0
    at(clock, s, dt.datetime(2027, 3, 14, 7, 0, 1, tzinfo=UTC))  # 03:00:01 EDT
    count, last = runs("acme", "beat-dst")
    assert count == 1 and last == dt.datetime(2027, 3, 14, 7, 0, 1, tzinfo=UTC)
    # 02:30 read with the old offset would be 07:30 UTC: nothing runs a second time then.
    at(clock, s, dt.datetime(2027, 3, 14, 7, 30, 30, tzinfo=UTC))
    assert runs("acme", "beat-dst")[0] == 1
    at(clock, s, dt.datetime(2027, 3, 15, 6, 30, 5, tzinfo=UTC))  # 02:30 EDT the next day
    assert runs("acme", "beat-dst")[0] == 2


def test_fall_back_a_repeated_time_runs_once_at_its_first_occurrence(clock: Any) -> None:
    # 2027-11-07 in New York: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    clock(dt.datetime(2027, 11, 7, 4, 0, tzinfo=UTC))
    cron_task("acme", "beat-dst", "30 1 * * *", NY, dt.datetime(2027, 11, 6, 6, 0, tzinfo=UTC))
    s = TenantScheduler(app=app)
    at(clock, s, dt.datetime(2027, 11, 7, 5, 29, 50, tzinfo=UTC))
    assert runs("acme", "beat-dst")[0] == 0
    at(clock, s, dt.datetime(2027, 11, 7, 5, 30, 2, tzinfo=UTC))  # 01:30 EDT, the first
    assert runs("acme", "beat-dst")[0] == 1
    at(clock, s, dt.datetime(2027, 11, 7, 6, 30, 2, tzinfo=UTC))  # 01:30 EST, the second
    assert runs("acme", "beat-dst")[0] == 1
    at(clock, s, dt.datetime(2027, 11, 8, 6, 30, 2, tzinfo=UTC))  # 01:30 EST the next day
    assert runs("acme", "beat-dst")[0] == 2


def test_stagger_shifts_each_tenant_by_its_own_stable_offset(clock: Any, settings: Any) -> None:
    settings.BEAT_STAGGER_WINDOW_S = 600
    offsets = {schema: stagger_offset(schema) for schema in ("acme", "globex")}
    assert offsets["acme"] != offsets["globex"]
    assert offsets == {schema: stagger_offset(schema) for schema in ("acme", "globex")}
    clock(dt.datetime(2027, 2, 1, 1, 0, tzinfo=UTC))
    for schema in offsets:
        cron_task(schema, "beat-night", "0 2 * * *", "UTC",
                  dt.datetime(2027, 2, 1, 0, 0, tzinfo=UTC))  # fmt: skip
    first, second = sorted(offsets, key=offsets.__getitem__)
    s = TenantScheduler(app=app)
    two = dt.datetime(2027, 2, 1, 2, 0, tzinfo=UTC)
    at(clock, s, two + dt.timedelta(seconds=offsets[first] - 2))
    assert (runs(first, "beat-night")[0], runs(second, "beat-night")[0]) == (0, 0)
    at(clock, s, two + dt.timedelta(seconds=offsets[first] + 1))
    assert (runs(first, "beat-night")[0], runs(second, "beat-night")[0]) == (1, 0)
    at(clock, s, two + dt.timedelta(seconds=offsets[second] + 1))
    assert (runs(first, "beat-night")[0], runs(second, "beat-night")[0]) == (1, 1)


def test_missed_runs_are_counted_and_caught_up_or_skipped_per_entry(clock: Any) -> None:
    now = dt.datetime(2027, 4, 1, 12, 30, tzinfo=UTC)
    clock(now)
    last = dt.datetime(2027, 4, 1, 7, 30, tzinfo=UTC)  # beat was down: 08:00-12:00 missed
    cron_task("acme", "beat-catch-up", "0 * * * *", "UTC", last, catch_up=True)
    cron_task("acme", "beat-skip", "0 * * * *", "UTC", last, catch_up=False)
    cron_task("globex", "beat-catch-up", "0 * * * *", "UTC", now)  # up to date
    s = TenantScheduler(app=app)
    at(clock, s, now)
    assert runs("acme", "beat-catch-up") == (1, now)  # once, not five times
    assert runs("acme", "beat-skip") == (0, now)  # moved on without running
    with schema_context("acme"):
        states = {st.periodic_task.name: st for st in ScheduleState.objects.select_related(
            "periodic_task").filter(periodic_task__name__startswith="beat-")}  # fmt: skip
    assert {name: st.missed_runs for name, st in states.items()} == {
        "beat-catch-up": 5, "beat-skip": 5,
    }  # fmt: skip
    assert states["beat-skip"].last_missed_at == dt.datetime(2027, 4, 1, 12, tzinfo=UTC)
    with schema_context("globex"):
        assert ScheduleState.objects.get(periodic_task__name="beat-catch-up").missed_runs == 0
    at(clock, s, dt.datetime(2027, 4, 1, 13, 0, 1, tzinfo=UTC))
    assert runs("acme", "beat-catch-up")[0] == 1 + 1 and runs("acme", "beat-skip")[0] == 1
    summary = ScheduleSummary.objects.get(schema_name="acme", name="beat-skip")
    assert summary.missed_runs == 5


def test_a_time_zone_change_moves_the_crontabs_that_followed_it(clock: Any) -> None:
    acme = Tenant.objects.get(schema_name="acme")
    old = acme.timezone
    clock(dt.datetime(2027, 1, 10, 1, 0, tzinfo=UTC))
    last = dt.datetime(2027, 1, 10, 0, 0, tzinfo=UTC)
    cron_task("acme", "beat-follows", "0 8 * * *", old, last)
    cron_task("acme", "beat-pinned", "0 8 * * *", "UTC", last)
    cron_task("globex", "beat-follows", "0 8 * * *", old, last)
    s = TenantScheduler(app=app)
    at(clock, s, dt.datetime(2027, 1, 10, 1, 0, 1, tzinfo=UTC))

    acme.timezone = "Asia/Tokyo"
    acme.save(update_fields=["timezone"])
    assert tenant_crontabs_move(tenant=acme, old_timezone=old) >= 1
    with schema_context("acme"):
        zones = {t.name: str(t.crontab.timezone) for t in PeriodicTask.objects.filter(
            name__startswith="beat-").select_related("crontab")}  # fmt: skip
    assert zones == {"beat-follows": "Asia/Tokyo", "beat-pinned": "UTC"}
    with schema_context("globex"):
        assert str(PeriodicTask.objects.get(name="beat-follows").crontab.timezone) == old
    # Beat picks the move up from the change log: at 08:00 Paris only globex's runs; acme's
    # runs at 08:00 Tokyo (23:00 UTC).
    at(clock, s, dt.datetime(2027, 1, 10, 7, 0, 1, tzinfo=UTC))
    assert (runs("acme", "beat-follows")[0], runs("globex", "beat-follows")[0]) == (0, 1)
    at(clock, s, dt.datetime(2027, 1, 10, 23, 0, 1, tzinfo=UTC))
    assert (runs("acme", "beat-follows")[0], runs("globex", "beat-follows")[0]) == (1, 1)


def test_the_overview_read_model_follows_each_schema(clock: Any) -> None:
    clock(dt.datetime(2027, 1, 10, 1, 0, tzinfo=UTC))
    last = dt.datetime(2027, 1, 10, 0, 0, tzinfo=UTC)
    cron_task("acme", "beat-report", "0 8 * * *", "UTC", last)
    cron_task("globex", "beat-report", "0 9 * * *", "UTC", last)
    s = TenantScheduler(app=app)
    at(clock, s, dt.datetime(2027, 1, 10, 1, 0, 1, tzinfo=UTC))
    rows = {r.schema_name: r for r in ScheduleSummary.objects.filter(name="beat-report")}
    assert rows["acme"].next_run_at == dt.datetime(2027, 1, 10, 8, tzinfo=UTC)
    assert rows["globex"].next_run_at == dt.datetime(2027, 1, 10, 9, tzinfo=UTC)
    assert rows["acme"].tenant.slug == "acme" and rows["acme"].schedule.startswith("At 08:00")
    globex_refreshed = rows["globex"].refreshed_at

    with schema_context("acme"):  # a staff edit in acme: acme's rows only are rewritten
        task = PeriodicTask.objects.get(name="beat-report")
        task.enabled = False
        task.save()
    clock(dt.datetime(2027, 1, 10, 2, 0, tzinfo=UTC))
    tick_until_idle(s)
    rows = {r.schema_name: r for r in ScheduleSummary.objects.filter(name="beat-report")}
    assert (rows["acme"].enabled, rows["acme"].next_run_at) == (False, None)
    assert rows["globex"].refreshed_at == globex_refreshed
    at(clock, s, dt.datetime(2027, 1, 10, 9, 0, 1, tzinfo=UTC))  # a send updates the run times
    globex = ScheduleSummary.objects.get(schema_name="globex", name="beat-report")
    assert globex.last_run_at == dt.datetime(2027, 1, 10, 9, 0, 1, tzinfo=UTC)
    assert globex.next_run_at == dt.datetime(2027, 1, 11, 9, tzinfo=UTC)


def test_a_leader_that_lost_its_lock_records_no_run_it_did_not_send(clock: Any) -> None:
    now = dt.datetime(2027, 5, 1, 10, 0, 30, tzinfo=UTC)
    clock(now - dt.timedelta(minutes=10))
    cron_task("acme", "beat-owned", "0 10 * * *", "UTC", now - dt.timedelta(hours=1))
    s = TenantScheduler(app=app)
    s.tick()  # leads, loads
    redis.Redis.from_url(settings.REDIS_URL).set(LEADER_KEY, "another-beat")
    clock(now)
    # The lock renewal at the start of the tick would notice; a leader that stalled inside
    # the tick past its lock is what the check before each send is for.
    s._leader = True
    s._leadership.hold = lambda: Hold.LEADING  # type: ignore[method-assign]
    tick_until_idle(s)
    assert runs("acme", "beat-owned") == (0, now - dt.timedelta(hours=1))


def test_enabling_a_schedule_again_starts_from_now_without_a_burst(
    clock: Any, operator_client: Any
) -> None:
    from django.utils import timezone

    now = timezone.now()  # the admin stamps real time: beat's clock follows it here
    clock(now)
    task = cron_task("acme", "beat-paused", "* * * * *", "UTC", now - dt.timedelta(days=30))
    url = "/admin/t/acme/django_celery_beat/periodictask/"
    operator_client.post(url, {"action": "disable", "_selected_action": [task.pk]})
    operator_client.post(url, {"action": "enable", "_selected_action": [task.pk]})
    s = TenantScheduler(app=app)
    at(clock, s, timezone.now())
    with schema_context("acme"):
        state = ScheduleState.objects.get(periodic_task_id=task.pk)
    assert state.missed_runs == 0 and runs("acme", "beat-paused")[0] == 0  # not 30 days' worth
    next_minute = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    at(clock, s, next_minute + dt.timedelta(seconds=1))
    assert runs("acme", "beat-paused")[0] == 1


def test_a_change_committed_after_a_later_one_is_still_picked_up(clock: Any) -> None:
    from beat.models import ScheduleChange

    clock(dt.datetime(2027, 1, 10, 1, 0, tzinfo=UTC))
    s = TenantScheduler(app=app)
    s.tick()
    # Provisioning takes an id, then commits seconds later; meanwhile another change (a later
    # id) is seen. Simulated by taking two ids and showing the lower one only after a tick.
    early = ScheduleChange.objects.create(schema_name="public")
    ScheduleChange.objects.create(schema_name="public")
    early_id = early.pk
    early.delete()
    s.tick()
    cron_task("acme", "beat-late", "0 8 * * *", "UTC", dt.datetime(2027, 1, 10, tzinfo=UTC))
    ScheduleChange.objects.filter(schema_name="acme").delete()  # no later signal to lean on
    ScheduleChange.objects.create(id=early_id, schema_name="acme")
    s.tick()
    assert "acme:beat-late" in s.schedule
