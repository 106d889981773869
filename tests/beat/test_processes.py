"""Two real `celery beat` processes: one leads, one stands by; the leader is killed; the standby
takes over and a due run is sent exactly once. The in-thread worker runs what they send."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask
from django_tenants.utils import schema_context

from beat.leadership import LEADER_KEY
from jobs.models import JobRun
from saas.health import BEAT_HEARTBEAT_KEY
from tests.helpers import start_beat, wait

pytestmark = [pytest.mark.usefixtures("live_db", "celery_worker"), pytest.mark.subprocess]
# A product task: beat processes register the project's tasks, not the test suite's.
TASK = "tenants.tasks.tenant_tables_count_task"


def runs() -> int:
    return JobRun.objects.filter(task_name=TASK, tenant_slug="acme", state="succeeded").count()


def test_a_standby_beat_takes_over_and_a_due_run_is_sent_once() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):
        client.delete(key)
    run_at = timezone.now() + dt.timedelta(seconds=8)
    with schema_context("acme"):
        clock = ClockedSchedule.objects.create(clocked_time=run_at)
        PeriodicTask.objects.create(
            name="beat-clocked", task=TASK, clocked=clock, one_off=True,
        )  # fmt: skip
    first = start_beat("first")
    wait(lambda: client.get(LEADER_KEY) is not None, 30, "a leader")
    second = start_beat("second")
    try:
        leader = client.get(LEADER_KEY)
        wait(lambda: runs() == 1, 30, "the clocked run")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        took = wait(lambda: client.get(LEADER_KEY) not in (None, leader), 30, "takeover")
        assert took < 30
        beat_before = client.get(BEAT_HEARTBEAT_KEY)
        wait(lambda: client.get(BEAT_HEARTBEAT_KEY) != beat_before, 10, "a new heartbeat")
        time.sleep(3)  # the new leader has loaded beat-clocked, unsynced, as due
    finally:
        for proc in (first, second):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)
    assert JobRun.objects.filter(task_name=TASK).count() == 1
    assert runs() == 1
