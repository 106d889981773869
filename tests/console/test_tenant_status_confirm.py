"""Suspending and archiving end every session of a tenant: the admin asks first (and wants the
slug typed to archive), from the list's actions and from the tenant's own page."""

from __future__ import annotations

import pytest
from django.test import Client

from backoffice.models import AuditEntry
from jobs.models import JobRun
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
LIST = "/admin/tenants/tenant/"


def test_suspend_asks_first_and_names_the_sessions_that_end(
    operator_client: Client, acme: Tenant
) -> None:
    page = operator_client.post(LIST, {"action": "suspend", "_selected_action": [acme.pk]})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Suspend 1 tenant?" in html and "signed out" in html and "Sessions that end" in html
    acme.refresh_from_db()
    assert acme.status == "active"  # nothing happened yet
    done = operator_client.post(
        LIST, {"action": "suspend", "_selected_action": [acme.pk], "confirmed": "yes"}
    )
    assert done.status_code == 302
    acme.refresh_from_db()
    assert acme.status == "suspended"
    assert AuditEntry.objects.filter(action="tenant.suspended", tenant_slug="acme").exists()


def test_archive_wants_the_slug_typed(operator_client: Client, acme: Tenant) -> None:
    base = {"action": "archive", "_selected_action": [acme.pk], "confirmed": "yes"}
    wrong = operator_client.post(LIST, {**base, "confirm_slug": "globex"})
    assert wrong.status_code == 200
    assert "Type the tenant" in wrong.content.decode()
    acme.refresh_from_db()
    assert acme.status == "active"
    started = operator_client.post(LIST, {**base, "confirm_slug": "acme"})
    # Archiving is a job that takes a final backup first (backups.offboarding, tested there):
    # the page lands on it; the tenant is archived when it has run.
    job = JobRun.objects.get(task_name="backups.tasks.tenant_archive_task")
    assert started.status_code == 302 and started["Location"].endswith(f"/{job.pk}/change/")
    assert job.kwargs["tenant_id"] == acme.pk
    acme.refresh_from_db()
    assert acme.status == "active"
    assert AuditEntry.objects.filter(action="tenant.archived.start", tenant_slug="acme").exists()


def test_delete_is_offered_only_for_an_archived_tenant_and_wants_the_slug(
    operator_client: Client, viewer_client: Client, acme: Tenant
) -> None:
    page = f"/admin/tenants/tenant/{acme.pk}/delete-tenant/"
    refused = operator_client.get(page, follow=True)
    assert "only an archived tenant can be deleted" in refused.content.decode()
    assert viewer_client.get(page).status_code in (302, 403)
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.ARCHIVED)
    asked = operator_client.get(page)
    assert asked.status_code == 200 and "schema is dropped" in asked.content.decode()
    wrong = operator_client.post(page, {"confirmed": "yes", "confirm_slug": "acm"})
    assert "Type the tenant" in wrong.content.decode()
    assert not JobRun.objects.filter(task_name="backups.tasks.tenant_delete_task").exists()
    operator_client.post(page, {"confirmed": "yes", "confirm_slug": "acme"})
    job = JobRun.objects.get(task_name="backups.tasks.tenant_delete_task")
    assert job.kwargs["tenant_id"] == acme.pk


def test_archive_is_one_tenant_at_a_time(
    operator_client: Client, acme: Tenant, globex: Tenant
) -> None:
    page = operator_client.post(
        LIST, {"action": "archive", "_selected_action": [acme.pk, globex.pk], "confirmed": "yes",
               "confirm_slug": "acme"},
    )  # fmt: skip
    assert "one tenant at a time" in page.content.decode()
    assert set(
        Tenant.objects.filter(slug__in=["acme", "globex"]).values_list("status", flat=True)
    ) == {"active"}


def test_the_tenant_page_has_suspend_with_the_same_confirmation(
    operator_client: Client, acme: Tenant
) -> None:
    change = operator_client.get(f"{LIST}{acme.pk}/change/").content.decode()
    assert f"{LIST}{acme.pk}/suspend/" in change
    confirm = operator_client.get(f"{LIST}{acme.pk}/suspend/")
    assert confirm.status_code == 200 and "Suspend 1 tenant?" in confirm.content.decode()
    acme.refresh_from_db()
    assert acme.status == "active"  # a GET never changes anything
    operator_client.post(f"{LIST}{acme.pk}/suspend/", {"confirmed": "yes"})
    acme.refresh_from_db()
    assert acme.status == "suspended"


def test_a_viewer_cannot_suspend_from_the_tenant_page(viewer_client: Client, acme: Tenant) -> None:
    response = viewer_client.post(f"{LIST}{acme.pk}/suspend/", {"confirmed": "yes"})
    assert response.status_code == 403
    acme.refresh_from_db()
    assert acme.status == "active"
