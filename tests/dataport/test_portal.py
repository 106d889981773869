"""Owners ask for their tenant's data export on the portal; members may not; the hourly budget
holds; the job is always the domain's tenant's."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import portal_client

pytestmark = pytest.mark.django_db


def test_an_owner_asks_for_the_export_of_her_tenant_only(
    acme: Tenant, alice: User, settings: Any
) -> None:
    settings.DATAPORT_EXPORTS_PER_HOUR = 1
    client = portal_client(acme, alice)
    page = client.get("/downloads/").content.decode()
    assert "Export our data" in page
    response = client.post("/downloads/export/", follow=True)
    assert "Your data export is being made" in response.content.decode()
    job = JobRun.objects.get(task_name="dataport.tasks.tenant_export_task")
    assert (job.tenant_slug, job.kwargs) == ("acme", {"requested_by": alice.pk})
    again = client.post("/downloads/export/", follow=True).content.decode()
    assert "the most there may be" in again
    assert JobRun.objects.filter(task_name="dataport.tasks.tenant_export_task").count() == 1


def test_members_may_not_ask_for_the_export(globex: Tenant, bob: User) -> None:
    client = portal_client(globex, bob)
    assert "Export our data" not in client.get("/downloads/").content.decode()
    assert client.post("/downloads/export/").status_code == 403
    assert not JobRun.objects.exists()
