"""A real `celery beat` process and the real (in-thread) worker: a tenant's periodic task is sent
with that tenant's headers and runs in its schema; the same name in another tenant is another
schedule, and its row is never touched."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from backoffice.models import JobRun
from tenants.models import Tenant
from tests.test_beat_processes import start_beat, wait

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")
TASK = "tests.worker_tasks.report_headers"


def test_beat_sends_a_tenant_schedule_with_its_headers_and_it_runs_in_that_schema() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):
        client.delete(key)
    for schema, enabled in (("acme", True), ("globex", False)):
        with schema_context(schema):
            every = IntervalSchedule.objects.create(every=2, period="seconds")
            PeriodicTask.objects.create(
                name="beat-headers", task=TASK, interval=every, enabled=enabled
            )
    beat = start_beat("integration")
    try:
        wait(lambda: JobRun.objects.filter(task_name=TASK, state="succeeded").count() >= 2, 40,
             "two runs sent by beat")  # fmt: skip
    finally:
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(10)
    time.sleep(1)  # a run sent just before the kill finishes
    acme = Tenant.objects.get(slug="acme")
    results = [r.result_summary for r in JobRun.objects.filter(task_name=TASK, state="succeeded")]
    assert results and all(
        r == {"schema": "acme", "tenant_id": acme.pk, "tenant_schema": "acme",
              "periodic_task_name": "beat-headers"}
        for r in results
    ), results  # fmt: skip
    assert not JobRun.objects.filter(task_name=TASK).exclude(tenant_slug="acme").exists()
    with schema_context("acme"):
        assert PeriodicTask.objects.get(name="beat-headers").total_run_count >= 2
    with schema_context("globex"):
        row = PeriodicTask.objects.get(name="beat-headers")
        assert (row.total_run_count, row.last_run_at) == (0, None)
