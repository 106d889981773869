"""Staff run any report of any tenant for any period from the tenant's page, and land on the
job: Operators only, audited."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from backoffice.models import AuditEntry
from jobs.models import JobRun
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _url(tenant: Tenant) -> str:
    return f"/admin/tenants/tenant/{tenant.pk}/report/"


def test_the_form_offers_every_kind_and_the_last_7_days_in_the_tenants_zone(
    operator_client: Client, acme: Tenant
) -> None:
    page = operator_client.get(_url(acme))
    assert page.status_code == 200
    html = page.content.decode()
    today = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()
    assert f'value="{(today - dt.timedelta(days=6)).isoformat()}"' in html
    assert f'value="{today.isoformat()}"' in html
    assert "Tenant activity" in html and "Job history" in html and "Access" in html
    # The tenant's page links to it.
    assert (
        _url(acme)
        in operator_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    )


def test_an_operator_runs_a_report_and_lands_on_its_job(
    operator_client: Client, operator: User, acme: Tenant
) -> None:
    response = operator_client.post(
        _url(acme), {"kind": "access", "start": "2026-03-02", "end": "2026-03-08"}
    )
    run = JobRun.objects.get(task_name="reports.tasks.report_generate_task")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/jobs/jobrun/{run.pk}/change/"
    assert run.tenant_slug == "acme" and run.queue == "long"
    assert run.kwargs == {"kind": "access", "start": "2026-03-02", "end": "2026-03-08",
                          "requested_by": operator.pk}  # fmt: skip
    entry = AuditEntry.objects.get(action="report.run")
    assert entry.tenant_slug == "acme" and entry.detail["kind"] == "access"


def test_a_bad_period_is_refused_with_a_message(operator_client: Client, acme: Tenant) -> None:
    page = operator_client.post(
        _url(acme), {"kind": "activity", "start": "2026-03-08", "end": "2026-03-02"}
    )
    assert page.status_code == 200 and "ends on or after its start" in page.content.decode()
    assert not JobRun.objects.exists()


def test_a_viewer_cannot_run_a_report(viewer_client: Client, globex: Tenant) -> None:
    assert (
        viewer_client.post(
            _url(globex), {"kind": "activity", "start": "2026-03-02", "end": "2026-03-08"}
        ).status_code
        == 403
    )
    assert (
        not JobRun.objects.exists() and not AuditEntry.objects.filter(action="report.run").exists()
    )
