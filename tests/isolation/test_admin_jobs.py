"""A job started from the platform admin for one tenant runs and writes in that tenant only."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context

from backoffice.models import AuditEntry
from backoffice.roles import OPERATORS
from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import staff_client, wait_for_state

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")


def test_a_job_started_for_acme_lands_on_its_jobrun_and_writes_in_acme_only() -> None:
    client = staff_client("live-olga", OPERATORS)
    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    with schema_context("acme"):
        PeriodicTask.objects.filter(name="tenant-usage-nightly").delete()  # the job puts it back
    with schema_context("globex"):
        globex_before = list(PeriodicTask.objects.values_list("pk", "name", "crontab_id"))

    response = client.post(
        "/admin/tenants/tenant/", {"action": "defaults_apply", "_selected_action": [acme.pk]}
    )
    run = JobRun.objects.get(task_name="tenants.tasks.tenant_defaults_apply_task")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/jobs/jobrun/{run.pk}/change/"
    run = wait_for_state(run.task_id, "succeeded")
    assert run.result_summary is not None
    assert run.tenant_slug == "acme" and run.result_summary["schema"] == "acme"
    with schema_context("acme"):
        restored = PeriodicTask.objects.select_related("crontab").get(name="tenant-usage-nightly")
        assert (restored.crontab.hour, str(restored.crontab.timezone)) == ("3", "Europe/Paris")
    with schema_context("globex"):
        assert list(PeriodicTask.objects.values_list("pk", "name", "crontab_id")) == globex_before
    page = client.get(response["Location"]).content.decode()
    assert "succeeded" in page and "tenant acme" in page
    assert AuditEntry.objects.filter(action__startswith="job.start", tenant=globex).count() == 0
    assert AuditEntry.objects.filter(action__startswith="job.start", tenant=acme).count() == 1
