"""Tenants in the platform admin: create with an owner, edit, status actions, roles, audit."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from backoffice.models import AuditEntry
from tenants.models import Domain, Membership, Tenant
from tests.helpers import TENANT_PAGE_INLINES

pytestmark = pytest.mark.django_db


def test_it_creates_a_tenant_with_its_first_owner(operator_client: Client, operator: User) -> None:
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {"name": "Umbrella", "slug": "umbrella", "timezone": "Europe/Berlin",
         "owner_email": "Wesker@Umbrella.test"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="umbrella")
    assert tenant.is_active and tenant.timezone == "Europe/Berlin"
    assert Domain.objects.filter(
        tenant=tenant, domain="umbrella.localhost", is_primary=True
    ).exists()
    owner = Membership.objects.get(tenant=tenant)
    assert (owner.user.email, owner.role) == ("wesker@umbrella.test", "owner")
    assert not owner.user.has_usable_password()
    entry = AuditEntry.objects.get(action="add", tenant_slug="")
    assert entry.actor == operator and entry.object_repr == "Umbrella"


def test_a_new_owner_is_invited_by_email_on_the_tenant_domain(
    operator_client: Client, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        operator_client.post(
            "/admin/tenants/tenant/add/",
            {"name": "Umbrella", "slug": "umbrella", "timezone": "UTC", "owner_email": "w@u.test"},
        )
    assert len(mail.outbox) == 1
    assert "https://umbrella.localhost/accounts/password/reset/" in mail.outbox[0].body


def test_it_shows_clear_errors_for_a_bad_slug(operator_client: Client) -> None:
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {"name": "X", "slug": "www", "timezone": "UTC", "owner_email": "x@x.test"},
    )
    assert response.status_code == 200
    assert "is reserved" in response.content.decode()
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {"name": "X", "slug": "acme", "timezone": "Not/AZone", "owner_email": "x@x.test"},
    )
    body = response.content.decode()
    assert "already exists" in body and "Not/AZone is not one of the available choices" in body


def test_operator_edits_name_and_timezone_but_not_slug(
    operator_client: Client, acme: Tenant
) -> None:
    form = {
        "name": "Acme Corporation", "timezone": "Asia/Tokyo", "slug": "hacked",
        **TENANT_PAGE_INLINES,
    }  # fmt: skip
    response = operator_client.post(f"/admin/tenants/tenant/{acme.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    acme.refresh_from_db()
    assert (acme.name, acme.timezone, acme.slug) == ("Acme Corporation", "Asia/Tokyo", "acme")
    assert AuditEntry.objects.filter(action="change", object_repr="Acme Corporation").exists()


def test_operator_adds_a_member_with_a_role(
    operator_client: Client, acme: Tenant, bob: User
) -> None:
    form = {
        "name": acme.name, "timezone": acme.timezone, **TENANT_PAGE_INLINES,
        "memberships-TOTAL_FORMS": "1",
        "memberships-0-user": str(bob.pk), "memberships-0-role": "owner",
    }  # fmt: skip
    response = operator_client.post(f"/admin/tenants/tenant/{acme.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Membership.objects.get(tenant=acme, user=bob).role == "owner"


def test_operator_suspends_and_reactivates(operator_client: Client, acme: Tenant) -> None:
    # Archiving is a job (a final backup first): tests/console/test_tenant_status_confirm.py.
    for action, status in (("suspend", "suspended"), ("reactivate", "active")):
        confirmation = {"confirmed": "yes", "confirm_slug": "acme"}  # suspend and archive ask
        response = operator_client.post(
            "/admin/tenants/tenant/",
            {"action": action, "_selected_action": [acme.pk], **confirmation},
        )
        assert response.status_code == 302
        acme.refresh_from_db()
        assert acme.status == status
        assert AuditEntry.objects.filter(action=f"tenant.{status}", tenant=acme).exists()


def test_an_impossible_transition_is_reported_not_applied(
    operator_client: Client, acme: Tenant
) -> None:
    response = operator_client.post(
        "/admin/tenants/tenant/",
        {"action": "reactivate", "_selected_action": [acme.pk]},
        follow=True,
    )
    assert "cannot go from active to active" in response.content.decode()
    acme.refresh_from_db()
    assert acme.status == "active"


def test_viewer_sees_tenants_but_cannot_change_anything(
    viewer_client: Client, acme: Tenant
) -> None:
    assert viewer_client.get("/admin/tenants/tenant/").status_code == 200
    assert viewer_client.get("/admin/tenants/tenant/add/").status_code == 403
    response = viewer_client.post(
        "/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [acme.pk]}
    )
    acme.refresh_from_db()
    assert acme.status == "active"
    assert response.status_code in (200, 302)
    change = viewer_client.post(f"/admin/tenants/tenant/{acme.pk}/change/", {"name": "Pwned"})
    assert change.status_code == 403
    acme.refresh_from_db()
    assert acme.name == "Acme Corp"


def test_tenants_cannot_be_deleted_from_the_admin(operator_client: Client, acme: Tenant) -> None:
    assert operator_client.get(f"/admin/tenants/tenant/{acme.pk}/delete/").status_code == 403


def test_the_dashboard_counts_tenants_and_shows_staff_activity(operator_client: Client) -> None:
    body = operator_client.get("/admin/").content.decode()
    assert "Recent staff activity" in body and "Tenants active" in body


def test_non_staff_cannot_enter_the_admin(public_client: Client, alice: User) -> None:
    public_client.force_login(alice)
    response = public_client.get("/admin/tenants/tenant/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_an_operator_cannot_make_themselves_superuser(
    operator_client: Client, operator: User
) -> None:
    page = operator_client.get(f"/admin/accounts/user/{operator.pk}/change/")
    # Their own account is staff: only a superuser may change staff accounts.
    assert page.status_code == 200 and 'name="is_superuser"' not in page.content.decode()
    operator_client.post(
        f"/admin/accounts/user/{operator.pk}/change/",
        {"username": operator.username, "email": operator.email, "is_superuser": "on",
         "is_staff": "on", "is_active": "on", "memberships-TOTAL_FORMS": "0",
         "memberships-INITIAL_FORMS": "0", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )  # fmt: skip
    operator.refresh_from_db()
    assert not operator.is_superuser


def test_an_operator_cannot_take_over_a_staff_account(
    operator_client: Client, viewer: User
) -> None:
    response = operator_client.post(
        f"/admin/accounts/user/{viewer.pk}/password/",
        {"password1": "Taken-over-123", "password2": "Taken-over-123", "usable_password": "true"},
    )
    assert response.status_code == 403
    viewer.refresh_from_db()
    assert not viewer.check_password("Taken-over-123")


def test_an_operator_manages_tenant_users(operator_client: Client, alice: User) -> None:
    page = operator_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and 'name="email"' in body and 'name="is_superuser"' not in body


def test_staff_sign_out_of_the_platform_admin(operator_client: Client) -> None:
    assert operator_client.post("/admin/logout/").status_code == 200
    assert operator_client.get("/admin/").status_code == 302
