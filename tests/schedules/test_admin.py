"""The schedule admin: a tenant's periodic tasks in its own admin (crontab in the tenant's zone,
clear errors, next runs, preview, enable/disable), and the cross-tenant overview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from beat.models import ScheduleSummary
from schedules.models import ScheduleState
from tenants.models import Tenant
from tests.helpers import SCHEDULE_ADD as ADD
from tests.helpers import SCHEDULE_LIST as LIST
from tests.helpers import SCHEDULE_TASK as TASK
from tests.helpers import form, names

pytestmark = pytest.mark.django_db


def errors_of(response: Any) -> str:
    assert response.status_code == 200, "the form was accepted"
    return response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cron": "61 * * * *"}, "Minute “61” is not valid"),
        ({"cron": "0 25 * * *"}, "Hour “25” is not valid"),
        ({"cron": "0 3 * *"}, "A crontab has five fields"),
        ({"kwargs": "{days: 14}"}, "Not valid JSON"),
        ({"args": '{"a": 1}'}, "Must be a JSON list"),
        ({"kwargs": '{"nope": 1}'}, "These arguments do not fit"),
        ({"cron": ""}, "Choose a schedule"),
        ({"interval": "__interval__"}, "Choose one schedule only (now: cron, interval)"),
        ({"task": "backoffice.tasks.jobruns_reap_task"}, "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_clear_error_and_nothing_is_saved(
    operator_client: Client, overrides: dict[str, str], message: str
) -> None:
    if overrides.get("interval") == "__interval__":
        with schema_context("acme"):
            overrides["interval"] = str(
                IntervalSchedule.objects.create(every=5, period="minutes").pk
            )
    body = errors_of(operator_client.post(ADD, form(**overrides)))
    assert message in body
    assert "nightly-usage" not in names("acme")


def test_the_task_picker_offers_tenant_tasks_only(operator_client: Client) -> None:
    body = operator_client.get(ADD).content.decode()
    assert f'value="{TASK}"' in body
    assert "backoffice.tasks.jobruns_reap_task" not in body  # a platform task
    platform = operator_client.get("/admin/django_celery_beat/periodictask/add/").content.decode()
    assert "backoffice.tasks.jobruns_reap_task" in platform and TASK not in platform


def test_the_list_shows_words_next_and_missed_runs_in_the_tenants_zone(
    operator_client: Client,
) -> None:
    assert operator_client.post(ADD, form()).status_code == 302
    with schema_context("acme"):
        task = PeriodicTask.objects.get(name="nightly-usage")
        ScheduleState.objects.filter(periodic_task=task).update(
            missed_runs=3, last_missed_at=timezone.now()
        )
    body = operator_client.get(LIST).content.decode()
    assert "At 06:00 AM, only on Monday, Tuesday, Wednesday, Thursday, and Friday" in body
    assert " CET" in body or " CEST" in body  # Europe/Paris, acme's zone
    assert "3 (last due" in body
    page = operator_client.get(f"{LIST}{task.pk}/change/").content.decode()
    assert page.count("06:00 CE") >= 5  # the next 5 runs, at 06:00 on acme's clock
    assert 'value="0 6 * * mon-fri"' in page


def test_the_preview_shows_five_runs_or_the_error(operator_client: Client) -> None:
    ok = operator_client.get(f"{LIST}preview/", {"cron": "30 2 * * *"}).json()
    assert len(ok["runs"]) == 5 and all("02:30 CE" in run for run in ok["runs"])
    bad = operator_client.get(f"{LIST}preview/", {"cron": "30 2 * *"})
    assert bad.status_code == 400 and "five fields" in bad.json()["error"]


def test_a_viewer_cannot_change_schedules(viewer_client: Client) -> None:
    assert viewer_client.get(LIST).status_code == 200
    assert viewer_client.post(ADD, form()).status_code == 403
    assert "nightly-usage" not in names("acme")


def _overview_rows(count: int) -> None:
    """`count` tenants (rows only: the overview reads the read model, not their schemas), each
    with one schedule in the read model."""
    ScheduleSummary.objects.all().delete()
    tenants = Tenant.objects.bulk_create(
        Tenant(name=f"Load {i}", slug=f"load-{count}-{i}", schema_name=f"load_{count}_{i}",
               status=Tenant.Status.ARCHIVED)
        for i in range(count)
    )  # fmt: skip
    now = timezone.now()
    ScheduleSummary.objects.bulk_create(
        ScheduleSummary(tenant=t, schema_name=t.schema_name, name="nightly", task=TASK,
                        schedule="At 03:00 AM", enabled=True, refreshed_at=now, next_run_at=now)
        for t in tenants
    )  # fmt: skip


def test_the_overview_costs_the_same_queries_at_1000_tenants_as_at_10(
    operator_client: Client,
) -> None:
    url = "/admin/beat/schedulesummary/"
    counts = {}
    for tenants in (10, 1000):
        _overview_rows(tenants)
        with CaptureQueriesContext(connection) as queries:
            response = operator_client.get(url)
        assert response.status_code == 200
        counts[tenants] = len(queries)
    assert counts[1000] == counts[10]
    filtered = operator_client.get(url, {"schema": "load_1000_7"}).content.decode()
    assert "Load 7<" in filtered and "Load 8<" not in filtered
    searched = operator_client.get(url, {"q": "Load 99"}).content.decode()
    assert "Load 99<" in searched and "Load 7<" not in searched


def test_applying_defaults_again_creates_missing_ones_and_keeps_staff_edits(
    operator_client: Client,
) -> None:
    from schedules.defaults import default_schedules
    from tenants.services import tenant_defaults_apply

    acme = Tenant.objects.get(slug="acme")
    edited, removed = default_schedules()[0].name, default_schedules()[1].name
    with schema_context("acme"):
        task = PeriodicTask.objects.get(name=edited)
    response = operator_client.post(
        f"{LIST}{task.pk}/change/",
        form(name=edited, task=task.task, enabled=None, cron="0 5 * * sun"),
    )
    assert response.status_code == 302
    with schema_context("acme"):
        PeriodicTask.objects.filter(name=removed).delete()
    tenant_defaults_apply(tenant=acme)
    with schema_context("acme"):
        kept = PeriodicTask.objects.select_related("crontab").get(name=edited)
        assert (kept.enabled, kept.crontab.hour, kept.crontab.day_of_week) == (False, "5", "sun")
        assert PeriodicTask.objects.filter(name=removed).count() == 1
        assert PeriodicTask.objects.filter(name=edited).count() == 1


def test_enabling_again_in_the_form_starts_the_schedule_from_now(operator_client: Client) -> None:
    with schema_context("acme"):
        every = IntervalSchedule.objects.create(every=1, period="hours")
        task = PeriodicTask.objects.create(
            name="paused", task=TASK, interval=every, enabled=False,
            last_run_at=timezone.now() - timedelta(days=30), total_run_count=7,
        )  # fmt: skip
    data = form(name="paused", cron="", interval=str(every.pk), enabled="on")
    assert operator_client.post(f"{LIST}{task.pk}/change/", data).status_code == 302
    with schema_context("acme"):
        task.refresh_from_db()
    # Beat counts a never-run schedule from date_changed (this save): no 30 days of "missed".
    assert (task.enabled, task.last_run_at, task.total_run_count) == (True, None, 7)
    assert task.date_changed > timezone.now() - timedelta(minutes=1)
