"""Recipients chosen per tenant are emailed a link to the portal's Downloads, on the tenant's
own domain, when a report is stored; never the PDF. Owners choose them in the portal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import User
from artifacts.models import Artifact
from backoffice.models import AuditEntry
from reports.data import Period, ReportKind
from reports.delivery import report_deliver_for, report_recipients, report_recipients_set
from reports.services import report_generate
from tenants.context import connection_tenant_set
from tenants.models import Tenant, tenant_url
from tests.helpers import portal_client

PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))


@pytest.mark.usefixtures("artifacts_root")
def test_each_recipient_gets_a_link_to_downloads_and_no_attachment(
    acme: Tenant, globex: Tenant, mailoutbox: list[Any]
) -> None:
    with tenant_context(globex):
        report_recipients_set(emails=["ceo@globex.example"])
    with tenant_context(acme):
        report_recipients_set(emails=["boss@acme.example", "audit@acme.example"])
        report = report_generate(tenant=acme, kind=ReportKind.ACTIVITY, period=PERIOD)
        assert mailoutbox == []  # storing sends nothing: the delivery job does
        assert report.artifact_id is not None
        assert report_deliver_for(tenant=acme, artifact_id=report.artifact_id) == 2
        with pytest.raises(Artifact.DoesNotExist):  # an id of another tenant's file: refused
            report_deliver_for(tenant=globex, artifact_id=report.artifact_id)
    assert sorted(m.to[0] for m in mailoutbox) == ["audit@acme.example", "boss@acme.example"]
    message = mailoutbox[0]
    assert len(message.to) == 1 and message.attachments == []
    assert message.subject == "Acme Corp: Tenant activity, 2 Mar 2026 to 8 Mar 2026 is ready"
    assert tenant_url(acme, "/downloads/") in message.body
    assert acme.primary_domain in message.body and "globex" not in message.body


@pytest.mark.usefixtures("artifacts_root")
def test_no_recipients_no_email(acme: Tenant, mailoutbox: list[Any]) -> None:
    with tenant_context(acme):
        report = report_generate(tenant=acme, kind=ReportKind.ACCESS, period=PERIOD)
        assert report.artifact_id is not None
        assert report_deliver_for(tenant=acme, artifact_id=report.artifact_id) == 0
    assert mailoutbox == []


@pytest.mark.django_db
def test_an_owner_sets_the_recipients_in_the_portal(acme: Tenant, alice: User) -> None:
    client = portal_client(acme, alice)
    page = client.post("/downloads/recipients/",
                       {"emails": "Boss@Acme.example\naudit@acme.example, boss@acme.example"},
                       follow=True)  # fmt: skip
    connection_tenant_set(None)
    assert "2 recipients will be emailed" in page.content.decode()
    with tenant_context(acme):
        assert report_recipients() == ["audit@acme.example", "boss@acme.example"]
    assert AuditEntry.objects.get(action="report.recipients").detail["after"] == [
        "audit@acme.example", "boss@acme.example",
    ]  # fmt: skip
    bad = client.post("/downloads/recipients/", {"emails": "nobody at all"}, follow=True)
    connection_tenant_set(None)
    assert "is not an email address" in bad.content.decode()
    with tenant_context(acme):
        assert len(report_recipients()) == 2  # unchanged


@pytest.mark.django_db
def test_a_member_cannot_set_recipients(acme: Tenant, carol: User) -> None:
    client: Client = portal_client(acme, carol)
    assert "Report recipients" not in client.get("/downloads/").content.decode()
    assert client.post("/downloads/recipients/", {"emails": "x@evil.example"}).status_code == 403
    connection_tenant_set(None)
    with tenant_context(acme):
        assert report_recipients() == []
    assert mail.outbox == []
