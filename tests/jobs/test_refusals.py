"""A message the worker refuses (no tenant, or a wrong one) never runs, and staff see it: a
JobRun row of its own and a line in Operations."""

from __future__ import annotations

import pytest
from celery.utils import uuid

from backoffice.models import AuditEntry
from jobs.models import JobRun
from saas.celery import app
from tests.helpers import staff_client, wait_for_state

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")


def test_a_raw_message_without_a_tenant_is_recorded_and_shown_in_operations() -> None:
    task_id = uuid()
    app.send_task("tests.worker_tasks.record_schema", args=[5], task_id=task_id)  # nobody's row
    run = wait_for_state(task_id, "failed")
    assert (run.error_type, run.task_name) == ("TenantMissing", "tests.worker_tasks.record_schema")
    forged = uuid()
    app.send_task("tests.worker_tasks.record_schema", args=[6], task_id=forged,
                  headers={"tenant_id": 987654, "tenant_schema": "acme"})  # fmt: skip
    assert wait_for_state(forged, "failed").error_type == "TenantUnknown"
    page = staff_client("live-olga", "Operators").get("/admin/operations/").content.decode()
    assert "Refused messages" in page
    assert "TenantMissing" in page and "TenantUnknown" in page
    assert JobRun.objects.filter(error_type__in=["TenantMissing", "TenantUnknown"]).count() == 2
    refusals = AuditEntry.objects.filter(action="job.refused").order_by("id")
    assert [e.detail["reason"] for e in refusals] == ["TenantMissing", "TenantUnknown"]
