"""Jobs in the admin, against a real worker: start from a tenant's page, land on the JobRun,
watch it, retry it, revoke it; viewers only look."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from backoffice.roles import OPERATORS, VIEWERS
from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import staff_client, wait_for_state
from tests.worker_tasks import record_schema, slow

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")


def test_the_jobrun_page_refreshes_while_running_and_shows_progress() -> None:
    client = staff_client("live-olga", OPERATORS)
    result = slow.apply_async((3,), tenant=Tenant.objects.get(slug="acme"))
    run = wait_for_state(result.id, "running")
    import time

    time.sleep(1.2)
    page = client.get(f"/admin/jobs/jobrun/{run.pk}/change/").content.decode()
    assert 'http-equiv="refresh"' in page and "<progress" in page
    result.get(timeout=20)
    page = client.get(f"/admin/jobs/jobrun/{run.pk}/change/").content.decode()
    assert 'http-equiv="refresh"' not in page


def test_retry_sends_the_same_task_tenant_and_arguments() -> None:
    client = staff_client("live-olga", OPERATORS)
    first = record_schema.apply_async((77,), tenant=Tenant.objects.get(slug="globex"))
    first.get(timeout=20)
    old = wait_for_state(first.id, "succeeded")
    response = client.post("/admin/jobs/jobrun/", {"action": "retry", "_selected_action": [old.pk]})
    new = JobRun.objects.get(retry_of=old)
    assert response["Location"] == f"/admin/jobs/jobrun/{new.pk}/change/"
    new = wait_for_state(new.task_id, "succeeded")
    assert (new.task_name, new.tenant_slug, new.args) == (old.task_name, "globex", [77])
    assert new.result_summary == {"schema": "globex", "markers": [77, 77]}


def test_revoke_stops_a_queued_job() -> None:
    client = staff_client("live-olga", OPERATORS)
    result = record_schema.apply_async((88,), tenant=Tenant.objects.get(slug="acme"), countdown=3)
    run = JobRun.objects.get(task_id=result.id)
    client.post("/admin/jobs/jobrun/", {"action": "revoke", "_selected_action": [run.pk]})
    wait_for_state(result.id, "revoked")
    import time

    time.sleep(3.5)
    with schema_context("acme"):
        from django_celery_beat.models import IntervalSchedule

        assert not IntervalSchedule.objects.filter(every=88, period="days").exists()
    assert JobRun.objects.get(pk=run.pk).state == "revoked"


def test_a_viewer_sees_jobs_but_cannot_retry_or_revoke() -> None:
    client = staff_client("live-victor", VIEWERS)
    result = record_schema.apply_async((0,), tenant=Tenant.objects.get(slug="acme"))
    result.get(timeout=20)
    run = wait_for_state(result.id, "succeeded")
    listing = client.get("/admin/jobs/jobrun/")
    assert listing.status_code == 200 and "record_schema(0)" in listing.content.decode()
    assert 'value="retry"' not in listing.content.decode()
    client.post("/admin/jobs/jobrun/", {"action": "retry", "_selected_action": [run.pk]})
    assert JobRun.objects.count() == 1


def test_the_operations_panel_shows_queues_workers_and_failures() -> None:
    client = staff_client("live-olga", OPERATORS)
    from tests.worker_tasks import explode

    failed = explode.apply_async(tenant=Tenant.objects.get(slug="acme"))
    wait_for_state(failed.id, "failed")
    page = client.get("/admin/operations/").content.decode()
    assert "short" in page and "long" in page and "Messages waiting" in page
    assert "explode()" in page and "ValueError" in page
    assert "Last heartbeat" in page


def test_revoke_refuses_a_running_job_terminate_is_needed() -> None:
    client = staff_client("live-olga", OPERATORS)
    result = slow.apply_async((2,), tenant=Tenant.objects.get(slug="acme"))
    run = wait_for_state(result.id, "running")
    response = client.post(
        "/admin/jobs/jobrun/", {"action": "revoke", "_selected_action": [run.pk]}, follow=True
    )
    assert "terminate it to stop it" in response.content.decode()
    result.get(timeout=20)
    assert wait_for_state(result.id, "succeeded").state == "succeeded"
