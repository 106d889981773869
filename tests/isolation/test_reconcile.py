"""The reconciler and beat's late-run bookkeeping, new tenant paths, against another tenant:
a re-sent job runs in its own tenant only, a tampered row is refused, and a late run skipped by
its rule is written to its own schema's row, never to another schema's row of the same id."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from celery.utils import uuid
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_tenants.utils import schema_context

from beat import clock as beat_clock
from beat.scheduler import TenantScheduler
from jobs.models import JobRun
from jobs.reconcile import jobs_reconcile
from saas.celery import app
from schedules.models import ScheduleState
from tenants.models import Tenant
from tests import worker_tasks  # noqa: F401  (registers the tasks these rows name)
from tests.helpers import markers_everywhere, wait_for_state

UTC = dt.UTC


def _lost_job(tenant: Tenant, schema: str, marker: int) -> str:
    """A tracked job whose message is gone (as after a Redis restart without its data)."""
    task_id = uuid()
    JobRun.objects.create(
        task_id=task_id, task_name="tests.worker_tasks.record_schema", tenant_id=tenant.pk,
        tenant_slug=tenant.slug, schema_name=schema, queue="short", args=[marker],
        queued_at=timezone.now() - dt.timedelta(seconds=settings.JOBS_RECONCILE_GRACE_S + 5),
    )  # fmt: skip
    return task_id


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_a_resent_job_runs_in_its_own_tenant_and_a_tampered_row_is_refused() -> None:
    acme = Tenant.objects.get(slug="acme")
    own = _lost_job(acme, "acme", 41)
    tampered = _lost_job(acme, "globex", 42)  # acme's id with globex's schema
    resent = jobs_reconcile(confirm_pause_s=0.2).resent
    assert {own, tampered} <= set(resent)
    assert wait_for_state(own, "succeeded").tenant_slug == "acme"
    assert wait_for_state(tampered, "failed").error_type == "TenantMismatch"
    assert markers_everywhere() == {"public": 0, "acme": 1, "globex": 0}


@pytest.mark.django_db
def test_a_late_run_skipped_by_its_rule_is_recorded_in_its_own_schema_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [dt.datetime(2027, 6, 1, 9, 59, tzinfo=UTC)]
    monkeypatch.setattr(beat_clock, "clock", lambda: now[0])
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):
        client.delete(key)
    shared_pk, last = 900_777, dt.datetime(2027, 5, 31, 10, 0, tzinfo=UTC)
    for schema in ("public", "acme", "globex"):  # the same id in three schemas
        with schema_context(schema):
            crontab = CrontabSchedule.objects.create(minute="0", hour="10", timezone="UTC")
            row = PeriodicTask.objects.create(
                pk=shared_pk, name=f"beat-late-{schema}", crontab=crontab, last_run_at=last,
                task="tests.worker_tasks.record_schema" if schema != "public"
                else "tests.worker_tasks.platform_schema", enabled=schema == "acme",
            )  # fmt: skip
            ScheduleState.objects.create(periodic_task=row, catch_up=False)
    before = {}
    for schema in ("public", "globex"):
        with schema_context(schema):
            row = PeriodicTask.objects.get(pk=shared_pk)
            before[schema] = (row.total_run_count, row.last_run_at, row.date_changed)
    scheduler = TenantScheduler(app=app)
    scheduler.tick()  # loaded a minute before 10:00: nothing missed yet
    now[0] = dt.datetime(2027, 6, 1, 10, 5, tzinfo=UTC)  # beat stalled past the grace
    for _ in range(20):
        if scheduler.tick() > 0:
            break
    with schema_context("acme"):
        row = PeriodicTask.objects.get(pk=shared_pk)
        assert (row.total_run_count, row.last_run_at) == (0, now[0])  # skipped, not run
        assert ScheduleState.objects.get(pk=shared_pk).missed_runs == 1
    for schema in ("public", "globex"):
        with schema_context(schema):
            other = PeriodicTask.objects.get(pk=shared_pk)
            assert (other.total_run_count, other.last_run_at, other.date_changed) == before[schema]
            assert ScheduleState.objects.get(pk=shared_pk).missed_runs == 0
