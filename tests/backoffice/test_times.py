"""One time rule on every admin page (backoffice.times): the tenant's zone inside its admin,
UTC on the platform, labelled; job times with seconds; relative times with the exact time on
hover; heartbeats never raw ISO strings."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from backoffice.models import AuditEntry
from jobs.models import JobRun
from saas.health import BEAT_HEARTBEAT_KEY
from tests.helpers import cron_task, session_make

pytestmark = pytest.mark.django_db

EXACT_UTC = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
# A relative time with the exact one, labelled, in its title.
AGO_UTC = (
    r'<time datetime="[^"]+" title="' + EXACT_UTC + r'">(\d+ (s|min|h)|1 day|\d+ days) ago</time>'
)


def _run(**fields: object) -> JobRun:
    now = timezone.now()
    defaults: dict[str, object] = {
        "task_id": "t-times", "task_name": "tests.worker_tasks.record_schema", "state": "succeeded",
        "queued_at": now - dt.timedelta(minutes=3), "started_at": now - dt.timedelta(minutes=3),
        "finished_at": now - dt.timedelta(minutes=2), "summary": "record_schema(1)",
    }  # fmt: skip
    return JobRun.objects.create(**{**defaults, **fields})


def test_job_history_and_a_jobrun_page_show_utc_with_seconds(operator_client: Client) -> None:
    run = _run()
    listing = operator_client.get("/admin/jobs/jobrun/").content.decode()
    assert re.search(AGO_UTC, listing) and "3 min ago" in listing
    page = operator_client.get(f"/admin/jobs/jobrun/{run.pk}/change/").content.decode()
    assert len(re.findall(r">" + EXACT_UTC + "</time>", page)) == 3  # queued, started, finished


def test_the_audit_log_shows_relative_times_with_the_exact_one_on_hover(
    operator_client: Client,
) -> None:
    AuditEntry.objects.create(actor_username="olga", action="tenant.suspended")
    listing = operator_client.get("/admin/backoffice/auditentry/").content.decode()
    assert re.search(r'<time datetime="[^"]+" title="' + EXACT_UTC + '">just now</time>', listing)


def test_operations_shows_the_beat_heartbeat_as_an_age_not_an_iso_string(
    operator_client: Client,
) -> None:
    beat = (timezone.now() - dt.timedelta(seconds=40)).isoformat()
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(BEAT_HEARTBEAT_KEY, beat)
    try:
        page = operator_client.get("/admin/operations/").content.decode()
        overview = operator_client.get("/admin/beat/schedulesummary/").content.decode()
    finally:
        client.delete(BEAT_HEARTBEAT_KEY)
    for body in (page, overview):
        assert beat not in body.replace(f'datetime="{beat}"', "")
        assert re.search(r'title="' + EXACT_UTC + r'">4\d s ago</time>', body)


def test_a_tenants_schedules_and_sessions_are_on_its_clock(operator_client: Client) -> None:
    task = cron_task("acme", "clocked-in", "0 6 * * *", "Europe/Paris",
                     timezone.now() - dt.timedelta(hours=2))  # fmt: skip
    with schema_context("acme"):
        type(task).objects.filter(pk=task.pk).update(total_run_count=1)
    listing = operator_client.get("/admin/t/acme/django_celery_beat/periodictask/").content.decode()
    assert re.search(r'title="[-\d: ]+ CES?T">2 h ago</time>', listing)  # last run
    session_make("acme")
    sessions = operator_client.get("/admin/t/acme/usersessions/session/").content.decode()
    assert re.search(r">[-\d: ]+ CES?T</time>", sessions)  # expires, on acme's clock
    platform = operator_client.get("/admin/usersessions/session/").content.decode()
    assert "CET" not in platform and "CEST" not in platform and re.search(EXACT_UTC, platform)
