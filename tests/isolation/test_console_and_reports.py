"""The staff pages added around one tenant, and the report paths: each shows or writes that
tenant's data only — its admin's dashboard, its page's tabs, a report run for it (from the admin
or its portal), its report recipients and their emails."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from artifacts.models import Artifact
from beat.models import ScheduleSummary
from jobs.models import JobRun
from reports.delivery import report_deliver_for, report_recipients, report_recipients_set
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import artifact_make, portal_client

pytestmark = pytest.mark.django_db
REPORT = "reports.tasks.report_generate_task"
WEEK = {"kind": "access", "start": "2026-03-02", "end": "2026-03-08"}


def _both_tenants_busy(acme: Tenant, globex: Tenant) -> None:
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for tenant in (acme, globex):
        artifact_make(tenant, title=f"{tenant.name} weekly report")
        JobRun.objects.create(task_id=f"own-{tenant.slug}", task_name="x.y", tenant=tenant,
                              tenant_slug=tenant.slug, schema_name=tenant.schema_name,
                              summary=f"{tenant.slug} job", state="failed", queued_at=now)  # fmt: skip
        ScheduleSummary.objects.create(tenant=tenant, schema_name=tenant.schema_name,
                                       name=f"{tenant.slug}-nightly", task="x.y",
                                       schedule="0 13 * * *", enabled=True, refreshed_at=now,
                                       next_run_at=now + timedelta(days=1))  # fmt: skip


@pytest.mark.usefixtures("artifacts_root")
def test_a_tenant_dashboard_shows_its_own_jobs_and_next_runs_in_its_zone(
    operator_client: Client, acme: Tenant, globex: Tenant
) -> None:
    _both_tenants_busy(acme, globex)
    html = operator_client.get(f"/admin/t/{acme.slug}/").content.decode()
    assert "acme job" in html and "acme-nightly" in html
    assert "globex job" not in html and "globex-nightly" not in html
    assert "Acme Corp weekly report" in html and "Globex weekly report" not in html
    # 12:00 UTC is 13:00 in Paris (winter): shown in the tenant's zone, labelled
    assert "13:00:00 CET" in html


@pytest.mark.usefixtures("artifacts_root")
def test_a_tenants_page_lists_its_own_jobs_schedules_and_files(
    operator_client: Client, acme: Tenant, globex: Tenant
) -> None:
    _both_tenants_busy(acme, globex)
    html = operator_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "acme job" in html and "acme-nightly" in html and "Acme Corp weekly report" in html
    assert "globex job" not in html and "globex-nightly" not in html
    assert "Globex weekly report" not in html


def test_a_report_run_from_acmes_page_is_acmes_job_only(
    operator_client: Client, acme: Tenant, globex: Tenant
) -> None:
    operator_client.post(f"/admin/tenants/tenant/{acme.pk}/report/", WEEK)
    [run] = JobRun.objects.filter(task_name=REPORT)
    assert (run.tenant_id, run.schema_name) == (acme.pk, "acme")
    assert not JobRun.objects.filter(task_name=REPORT, tenant=globex).exists()


def test_an_owner_of_acme_runs_no_report_on_globexs_domain(
    globex: Tenant, alice: User, bob: User
) -> None:
    response = portal_client(globex, alice).post("/downloads/report/", WEEK)
    connection_tenant_set(None)
    assert response.status_code in (302, 403)
    assert not JobRun.objects.filter(task_name=REPORT).exists()


def test_recipients_are_set_and_told_per_tenant(
    acme: Tenant, globex: Tenant, alice: User, mailoutbox: list[Any]
) -> None:
    with tenant_context(globex):
        report_recipients_set(emails=["ceo@globex.example"])
    portal_client(acme, alice).post("/downloads/recipients/", {"emails": "boss@acme.example"})
    connection_tenant_set(None)
    with tenant_context(acme):
        assert report_recipients() == ["boss@acme.example"]
    with tenant_context(globex):
        assert report_recipients() == ["ceo@globex.example"]  # untouched
    report = Artifact.objects.create(
        tenant=acme, kind=Artifact.Kind.REPORT, title="Acme report", filename="r.pdf",
        audience=Artifact.Audience.MEMBERS, storage_key=f"{acme.pk}/report/2026/03/x.pdf",
        content_type="application/pdf", size=1, sha256="0" * 64,
    )  # fmt: skip
    # A delivery job naming acme's report while running for globex: refused, nobody mailed.
    with tenant_context(globex), pytest.raises(Artifact.DoesNotExist, match="nobody was emailed"):
        report_deliver_for(tenant=globex, artifact_id=report.pk)
    assert mailoutbox == []
    with tenant_context(acme):
        assert report_deliver_for(tenant=acme, artifact_id=report.pk) == 1
    assert [m.to for m in mailoutbox] == [["boss@acme.example"]]
