"""Sessions end when access ends: member removed, tenant suspended or archived, password changed
or reset (by the user, by staff, by a reset link), user deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from tenants.context import connection_tenant_set
from tenants.models import Membership, Tenant
from tenants.services import membership_remove, tenant_status_set
from tests.helpers import PASSWORD, host_client, portal_client, session_keys, session_make

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "A-new-secret-77"


def test_removing_a_member_ends_their_sessions_in_that_tenant(alice: User, acme: Tenant) -> None:
    key = session_make("acme", alice)
    other = session_make("acme")  # someone else's (anonymous) session stays
    assert membership_remove(tenant=acme, user=alice) is True
    assert session_keys("acme") == {other}
    assert membership_remove(tenant=acme, user=alice) is False  # not a member any more
    assert key not in session_keys("acme")


def test_a_membership_deleted_any_other_way_ends_the_sessions_too(
    alice: User, acme: Tenant
) -> None:
    session_make("acme", alice)
    # As the tenant admin's member inline deletes it: a plain queryset delete.
    Membership.objects.filter(user=alice, tenant=acme).delete()
    assert session_keys("acme", user_id=alice.pk) == set()


@pytest.mark.parametrize("status", ["suspended", "archived"])
def test_suspending_or_archiving_ends_every_session_of_the_tenant(
    alice: User, acme: Tenant, status: str, django_capture_on_commit_callbacks: Any
) -> None:
    session_make("acme", alice)
    session_make("acme")
    with django_capture_on_commit_callbacks(execute=True):
        tenant_status_set(tenant=acme, status=status)
    assert session_keys("acme") == set()


def test_reactivating_ends_nothing(
    alice: User, acme: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    tenant_status_set(tenant=acme, status="suspended")
    key = session_make("acme", alice)  # e.g. made while suspended, by a task
    with django_capture_on_commit_callbacks(execute=True):
        tenant_status_set(tenant=acme, status="active")
    assert session_keys("acme") == {key}


def test_a_password_change_ends_every_other_session_of_the_user(carol: User) -> None:
    acme = Tenant.objects.get(slug="acme")
    client = portal_client(acme, carol)
    acme_other = session_make("acme", carol)
    globex = session_make("globex", carol)
    public = session_make("public", carol)
    bystander = session_make("acme", User.objects.create_user("dave", "d@example.com", "x"))

    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    connection_tenant_set(None)
    assert response.status_code == 302
    # The current session carries on (under a new key); every other one of carol's is gone.
    assert client.get("/").status_code == 200
    current = client.cookies["sessionid"].value
    assert session_keys("acme", user_id=carol.pk) == {current}
    assert not {acme_other, globex, public} & (
        session_keys("acme") | session_keys("globex") | session_keys("public")
    )
    assert bystander in session_keys("acme")


def test_a_password_reset_ends_every_session_of_the_user(alice: User) -> None:
    signed_in = session_make("acme", alice)
    staff_side = session_make("public", alice)
    client = host_client("acme.localhost")
    client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    set_url = client.get(link.split("acme.localhost", 1)[1], follow=True).redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    connection_tenant_set(None)
    assert response.status_code == 302
    assert session_keys("acme", user_id=alice.pk) == set()
    assert staff_side not in session_keys("public") and signed_in not in session_keys("acme")


def test_staff_setting_a_users_password_ends_that_users_sessions(
    operator_client: Client, operator: User, carol: User
) -> None:
    session_make("acme", carol)
    session_make("globex", carol)
    own = operator_client.cookies["sessionid"].value
    response = operator_client.post(
        f"/admin/accounts/user/{carol.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert session_keys("acme", user_id=carol.pk) == session_keys("globex", user_id=carol.pk)
    assert session_keys("acme", user_id=carol.pk) == set()
    # The operator's own session is not carol's: Django re-issues it, it stays signed in.
    assert operator_client.get("/admin/").status_code == 200
    assert operator_client.cookies["sessionid"].value != own


def test_a_staff_password_change_keeps_the_current_session_only(
    operator_client: Client, operator: User
) -> None:
    elsewhere = session_make("public", operator)
    response = operator_client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert operator_client.get("/admin/").status_code == 200
    assert session_keys("public", user_id=operator.pk) == {
        operator_client.cookies["sessionid"].value
    }
    assert elsewhere not in session_keys("public")


def test_a_hash_upgrade_at_sign_in_is_not_a_password_change(alice: User) -> None:
    from django.contrib.auth.hashers import make_password

    # A salt shorter than the hasher wants: Django re-hashes the password at the next sign-in.
    weak = make_password(PASSWORD, salt="ab")
    User.objects.filter(pk=alice.pk).update(password=weak)
    elsewhere = session_make("acme", User.objects.get(pk=alice.pk))
    client = host_client("acme.localhost")
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    connection_tenant_set(None)
    assert response.status_code == 302
    assert User.objects.get(pk=alice.pk).password != weak  # upgraded
    assert elsewhere in session_keys("acme")


def test_deleting_a_user_ends_their_sessions_everywhere(carol: User, operator: User) -> None:
    session_make("acme", carol)
    session_make("globex", carol)
    session_make("public", carol)
    kept = session_make("public", operator)
    carol.delete()
    everything = session_keys("acme") | session_keys("globex") | session_keys("public")
    assert everything == {kept}
