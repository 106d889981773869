"""Beat through a database outage (a real one: every connection cut, new ones refused), with
committed rows and a real worker: a run that could not be sent is not a run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django_tenants.utils import schema_context

from beat.scheduler import TenantScheduler
from jobs.models import JobRun
from saas.celery import app
from schedules.models import ScheduleState
from tests.helpers import cron_task, database_outage, runs, tick_until_idle, wait_until

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")
UTC = dt.UTC
DUE = dt.datetime(2027, 5, 1, 10, 0, 30, tzinfo=UTC)  # "0 10 * * *" fell due 30 s ago


def _missed(name: str) -> int:
    with schema_context("acme"):
        return ScheduleState.objects.get(periodic_task__name=name).missed_runs


def _sent(name: str) -> int:
    return JobRun.objects.filter(
        tenant_slug="acme", task_name="tests.worker_tasks.record_schema"
    ).count()


@pytest.mark.parametrize("catch_up", [True, False])
def test_a_run_due_during_an_outage_is_recorded_as_missed_then_caught_up_or_skipped(
    clock: Any, catch_up: bool
) -> None:
    last = DUE - dt.timedelta(days=1)
    clock(DUE - dt.timedelta(minutes=10))
    cron_task("acme", "beat-outage", "0 10 * * *", "UTC", last, catch_up=catch_up)
    s = TenantScheduler(app=app)
    s.tick()  # leads and loads: nothing due yet
    clock(DUE)
    with database_outage():
        for _ in range(3):
            s.tick()  # due: each send fails (its JobRun cannot be written)
    assert runs("acme", "beat-outage") == (0, last)  # a send that failed is not a run
    back = DUE + dt.timedelta(minutes=5)  # later than the grace: a missed run
    clock(back)
    tick_until_idle(s)
    s.sync()  # run state that could not be written during the outage, written now
    assert not s._dirty
    assert _missed("beat-outage") == 1
    if catch_up:
        assert runs("acme", "beat-outage") == (1, back)
        assert _sent("beat-outage") == 1
    else:
        assert runs("acme", "beat-outage") == (0, back)  # skipped to the next due time
        assert _sent("beat-outage") == 0
    # The tenants' default schedules were due on this clock too, and were sent: let their jobs
    # (and a retry the outage caused) finish here rather than in a later test.
    final = [*JobRun.FINAL_STATES, "lost"]
    wait_until(lambda: not JobRun.objects.exclude(state__in=final).exists(), 30, "jobs settled")
