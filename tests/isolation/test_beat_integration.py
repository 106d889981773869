"""A real `celery beat` process and the real (in-thread) worker: a tenant's periodic task is sent
with that tenant's headers and runs in its schema; the same name in another tenant is another
schedule: each runs in its own schema with its own headers and writes its own row."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import start_beat, wait

pytestmark = [pytest.mark.usefixtures("live_db", "celery_worker"), pytest.mark.subprocess]
TASK = "tests.worker_tasks.report_headers"


def test_beat_sends_a_tenant_schedule_with_its_headers_and_it_runs_in_that_schema() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):
        client.delete(key)
    for schema, seconds in (("acme", 2), ("globex", 3)):
        with schema_context(schema):
            every = IntervalSchedule.objects.create(every=seconds, period="seconds")
            PeriodicTask.objects.create(name="beat-headers", task=TASK, interval=every)
    beat = start_beat("integration")
    done = JobRun.objects.filter(task_name=TASK, state="succeeded")
    try:
        wait(lambda: {r.tenant_slug for r in done.all()} == {"acme", "globex"} and done.count() >= 4,
             40, "runs sent by beat in both tenants")  # fmt: skip
    finally:
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(10)
    time.sleep(1)  # a run sent just before the kill finishes
    ids = {t.slug: t.pk for t in Tenant.objects.filter(slug__in=["acme", "globex"])}
    runs = {slug: 0 for slug in ids}
    for run in JobRun.objects.filter(task_name=TASK, state="succeeded"):
        slug = run.tenant_slug
        assert run.result_summary == {"schema": slug, "tenant_id": ids[slug],
                                      "tenant_schema": slug, "periodic_task_name": "beat-headers"}  # fmt: skip
        runs[slug] += 1
    for slug, count in runs.items():
        with schema_context(slug):  # run state went to each tenant's own row
            assert PeriodicTask.objects.get(name="beat-headers").total_run_count >= count >= 1
