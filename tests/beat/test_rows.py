"""What beat does with rows that must not clash or cannot be sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from beat.scheduler import TenantScheduler
from saas.celery import app
from tests import worker_tasks  # noqa: F401  (registers the tasks these schedules name)
from tests.helpers import cron_task, runs, tick_until_idle

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def test_a_platform_schedule_named_like_a_tenant_entry_does_not_share_its_key(clock: Any) -> None:
    now = dt.datetime(2027, 3, 1, 9, 0, 5, tzinfo=UTC)
    clock(now)
    last = now - dt.timedelta(minutes=1, seconds=5)
    cron_task("public", "acme:beat-red", "* * * * *", "UTC", last,
              task="tests.worker_tasks.platform_schema")  # fmt: skip
    cron_task("acme", "beat-red", "* * * * *", "UTC", last)
    s = TenantScheduler(app=app)
    tick_until_idle(s)
    assert {"public:acme:beat-red", "acme:beat-red"} <= set(s.schedule)
    assert runs("public", "acme:beat-red")[0] == 1
    assert runs("acme", "beat-red")[0] == 1


def test_a_stored_row_that_cannot_be_sent_is_never_counted_as_run_and_shows_why(
    clock: Any, operator_client: Client
) -> None:
    clock(dt.datetime(2027, 3, 1, 9, 0, 5, tzinfo=UTC))
    with schema_context("acme"):
        every = IntervalSchedule.objects.create(every=1, period="minutes")
        PeriodicTask.objects.create(  # written before validation existed (or by hand)
            name="beat-nul", task="tests.worker_tasks.record_schema", interval=every,
            kwargs='{"marker": "\\u0000"}', last_run_at=dt.datetime(2027, 3, 1, tzinfo=UTC),
        )  # fmt: skip
    s = TenantScheduler(app=app)
    for _ in range(3):
        tick_until_idle(s)
    assert runs("acme", "beat-nul")[0] == 0
    assert "acme:beat-nul" not in s.schedule
    page = operator_client.get("/admin/t/acme/django_celery_beat/periodictask/")
    assert page.status_code == 200
    assert "Invalid: Keyword arguments contains a NUL character" in page.content.decode()
