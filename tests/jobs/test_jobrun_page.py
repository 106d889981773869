"""The JobRun page as people read it: result and arguments as key/value tables, "Arguments
truncated" only when they were, a skipped job's reason, progress in words, and links to the
tenant and the schedule that started the job."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import JobRun
from tenants.models import Tenant
from tests.worker_tasks import record_schema

pytestmark = pytest.mark.django_db


def _page(client: Client, **fields: Any) -> str:
    defaults: dict[str, Any] = {
        "task_id": "t-page", "task_name": "tests.worker_tasks.record_schema",
        "state": "succeeded", "queued_at": timezone.now(), "summary": "record_schema(77)",
    }  # fmt: skip
    run = JobRun.objects.create(**{**defaults, **fields})
    response = client.get(f"/admin/jobs/jobrun/{run.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_result_and_arguments_are_key_value_tables_escaped(operator_client: Client) -> None:
    page = _page(
        operator_client, args=[77], kwargs={"days": 14, "note": "<b>bold</b>"},
        result_summary={"schema": "acme", "deleted": 40, "markers": [77, 77]},
    )  # fmt: skip
    for key, value in (("#1", "77"), ("days", "14"), ("schema", "acme"), ("deleted", "40"),
                       ("markers", "77, 77"), ("note", "&lt;b&gt;bold&lt;/b&gt;")):  # fmt: skip
        assert f'<th scope="row">{key}</th><td>{value}</td>' in page
    assert '{"schema"' not in page and "&quot;schema&quot;" not in page  # no raw JSON
    assert "<b>bold</b>" not in page


def test_arguments_truncated_shows_only_when_true(operator_client: Client) -> None:
    page = _page(operator_client, args=[1])
    assert "truncated" not in page.lower() and "icon-no" not in page
    page = _page(operator_client, task_id="t-big", args=["…"], arguments_truncated=True)
    assert "Arguments truncated" in page and "cannot be retried" in page


def test_a_skipped_jobs_message_is_its_reason(operator_client: Client) -> None:
    page = _page(operator_client, state="skipped", error_message="tenant acme is suspended")
    assert re.search(r"<label[^>]*>\s*Reason\s*</label>", page) and "Error message" not in page
    assert "tenant acme is suspended" in page


def test_progress_without_a_total_reads_as_its_message(operator_client: Client) -> None:
    page = _page(operator_client, progress_done=0, progress_message="No expired sessions")
    assert "No expired sessions" in page and "0 No expired sessions" not in page
    page = _page(operator_client, task_id="t-2", progress_done=3, progress_total=10,
                 progress_message="tables")  # fmt: skip
    assert "3 of 10: tables" in page


def test_the_page_links_to_the_tenant_and_the_schedule_that_sent_it(
    operator_client: Client,
) -> None:
    acme = Tenant.objects.get(slug="acme")
    page = _page(operator_client, tenant_id=acme.pk, tenant_slug="acme", schema_name="acme",
                 periodic_task_name="nightly usage")  # fmt: skip
    assert f'<a href="/admin/tenants/tenant/{acme.pk}/change/">acme</a>' in page
    assert '<a href="/admin/t/acme/django_celery_beat/periodictask/?q=nightly+usage">' in page
    page = _page(operator_client, task_id="t-platform", periodic_task_name="reap")
    assert '<a href="/admin/django_celery_beat/periodictask/?q=reap">' in page
    page = _page(operator_client, task_id="t-hand")
    assert "started by hand" in page


def test_a_send_records_the_schedule_that_sent_it() -> None:
    acme = Tenant.objects.get(slug="acme")
    # Inside the test's transaction the message waits for a commit that never comes: only the
    # JobRun is written.
    result = record_schema.apply_async((1,), tenant=acme,
                                       headers={"periodic_task_name": "nightly usage"})  # fmt: skip
    assert JobRun.objects.get(task_id=result.id).periodic_task_name == "nightly usage"
    by_hand = record_schema.apply_async((1,), tenant=acme)
    assert JobRun.objects.get(task_id=by_hand.id).periodic_task_name == ""
