"""What surrounds a tenant task's body: log lines carry the tenant, the hook after the switch
sees it (and can fail the task loudly), and request code enqueues on commit."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from jobs.api import task_enqueue
from jobs.models import JobRun
from jobs.signals import tenant_task_started
from tenants.models import Tenant
from tests.helpers import wait_for_state
from tests.worker_tasks import log_line, record_schema

WAIT = 20


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_log_lines_inside_a_task_carry_the_tenant(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tests.worker_tasks")
    log_line.delay_for(Tenant.objects.get(slug="globex"), "hello from a job").get(timeout=WAIT)
    (record,) = [r for r in caplog.records if r.getMessage() == "hello from a job"]
    assert record.tenant == "globex"  # type: ignore[attr-defined]
    outside = logging.getLogger("tests").makeRecord(
        "tests", logging.INFO, __file__, 1, "x", (), None
    )
    assert outside.tenant == "-"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_the_hook_after_the_switch_sees_the_tenant_and_fails_loudly() -> None:
    seen: list[tuple[str, str]] = []

    def tag(sender: Any, task: Any, tenant: Tenant, **kwargs: Any) -> None:
        from tenants.context import connection_schema

        seen.append((tenant.slug, connection_schema()))
        if tenant.slug == "globex":
            raise RuntimeError("metrics backend refused")

    tenant_task_started.connect(tag)
    try:
        record_schema.delay_for(Tenant.objects.get(slug="acme"), 0).get(timeout=WAIT)
        failing = record_schema.delay_for(Tenant.objects.get(slug="globex"), 5)
        with pytest.raises(RuntimeError, match="metrics backend refused"):
            failing.get(timeout=WAIT)
    finally:
        tenant_task_started.disconnect(tag)
    assert seen == [("acme", "acme"), ("globex", "globex")]
    assert wait_for_state(failing.id, "failed").error_type == "RuntimeError"


@pytest.mark.django_db
def test_request_code_enqueues_on_commit(django_capture_on_commit_callbacks: Any) -> None:
    acme = Tenant.objects.get(slug="acme")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_id = task_enqueue(record_schema, tenant=acme, args=[1])
        # The row is there (same transaction), the message is not sent yet.
        assert JobRun.objects.get(task_id=task_id).state == "queued"
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_send_inside_a_transaction_waits_for_the_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    acme = Tenant.objects.get(slug="acme")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = record_schema.apply_async((2,), tenant=acme)
        assert JobRun.objects.get(task_id=result.id).state == "queued"
    assert len(callbacks) == 1  # the message goes out only if the transaction commits
