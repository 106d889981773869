"""Owners run a report from Downloads (rate-limited per tenant, audited); members may not, and
see no form; nobody runs one for another tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from backoffice.models import AuditEntry
from jobs.models import JobRun
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import portal_client

pytestmark = pytest.mark.django_db
RUN = "/downloads/report/"
WEEK = {"kind": "access", "start": "2026-03-02", "end": "2026-03-08"}


def _post(client: Client, data: dict[str, str]) -> Any:
    response = client.post(RUN, data, follow=True)
    connection_tenant_set(None)
    return response


def _jobs(slug: str) -> list[JobRun]:
    return list(JobRun.objects.filter(task_name="reports.tasks.report_generate_task",
                                      tenant_slug=slug))  # fmt: skip


def test_an_owner_runs_a_report_and_is_told_it_will_appear_in_downloads(
    acme: Tenant, alice: User
) -> None:
    client = portal_client(acme, alice)
    page = client.get("/downloads/")
    assert 'action="/downloads/report/"' in page.content.decode()
    done = _post(client, WEEK)
    assert done.redirect_chain[-1][0] == "/downloads/"
    assert "will appear here, in Downloads" in done.content.decode()
    [run] = _jobs("acme")
    assert run.kwargs == {**WEEK, "requested_by": alice.pk}
    entry = AuditEntry.objects.get(action="report.run")
    assert (entry.tenant_slug, entry.detail["via"], entry.detail["kind"]) == ("acme", "portal",
                                                                               "access")  # fmt: skip


def test_a_member_sees_no_form_and_is_refused(acme: Tenant, carol: User) -> None:
    client = portal_client(acme, carol)
    assert "Run a report" not in client.get("/downloads/").content.decode()
    assert _post(client, WEEK).status_code == 403
    assert _jobs("acme") == [] and not AuditEntry.objects.filter(action="report.run").exists()


def test_an_owner_of_acme_cannot_run_one_on_globexs_domain(
    globex: Tenant, alice: User, bob: User
) -> None:
    response = portal_client(globex, alice).post(RUN, WEEK)
    connection_tenant_set(None)
    assert response.status_code in (302, 403) and _jobs("globex") == []


def test_reports_are_limited_per_tenant_and_hour(acme: Tenant, alice: User, settings: Any) -> None:
    settings.REPORT_REQUESTS_PER_HOUR = 2
    client = portal_client(acme, alice)
    _post(client, WEEK)
    _post(client, {**WEEK, "kind": "activity"})
    over = _post(client, WEEK)
    assert "asked for 2 reports in the last hour" in over.content.decode()
    assert len(_jobs("acme")) == 2


def test_a_bad_period_is_refused_with_a_message(acme: Tenant, alice: User) -> None:
    page = _post(portal_client(acme, alice), {**WEEK, "start": "2026-03-09"})
    assert "ends on or after its start" in page.content.decode() and _jobs("acme") == []
