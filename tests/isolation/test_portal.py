"""The tenant portal: only a tenant's members sign in on its domain; sessions stay per tenant."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from accounts.models import User
from tenants.context import connection_tenant_set
from tenants.models import Membership, Tenant
from tenants.services import tenant_status_set
from tests.helpers import PASSWORD, host_client, portal_client

pytestmark = pytest.mark.django_db


def _page(body: str, username: str) -> str:
    """The page with what legitimately differs (CSRF token, the typed name) taken out."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body).replace(username, "X")


def sign_in(host: str, username: str, password: str = PASSWORD) -> tuple[Client, str]:
    client = host_client(host)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    connection_tenant_set(None)
    return client, (
        response["Location"] if response.status_code == 302 else response.content.decode()
    )


def test_a_member_signs_in_and_sees_home(alice: User) -> None:
    client, location = sign_in("acme.localhost", "alice")
    assert location == "/"
    body = client.get("/").content.decode()
    assert "<h1>Acme Corp</h1>" in body
    assert '<span class="badge badge-owner">Owner</span>' in body


def test_a_non_member_gets_the_wrong_password_error(alice: User, bob: User) -> None:
    _, wrong_password = sign_in("globex.localhost", "bob", "not-the-password")
    _, not_member = sign_in("globex.localhost", "alice")
    _, no_such_user = sign_in("globex.localhost", "nobody")
    assert "Please enter a correct username and password" in not_member
    # Same page for all three: nothing tells whether alice has an account somewhere.
    assert _page(not_member, "alice") == _page(wrong_password, "bob")
    assert _page(no_such_user, "nobody") == _page(wrong_password, "bob")


def test_a_member_of_both_signs_in_on_each(carol: User) -> None:
    assert sign_in("acme.localhost", "carol")[1] == "/"
    assert sign_in("globex.localhost", "carol")[1] == "/"


def test_sessions_live_in_the_tenant_schema_and_do_not_travel(alice: User, acme: Tenant) -> None:
    client, _ = sign_in("acme.localhost", "alice")
    key = client.cookies["sessionid"].value
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM acme.usersessions_session WHERE session_key=%s", [key])
        assert cursor.fetchone() == (1,)
        for schema in ("globex", "public"):
            cursor.execute(
                f"SELECT count(*) FROM {schema}.usersessions_session WHERE session_key=%s", [key]
            )
            assert cursor.fetchone() == (0,)
    # Replaying acme's cookie on globex's domain finds no session there.
    thief = host_client("globex.localhost")
    thief.cookies["sessionid"] = key
    response = thief.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sign_out(alice: User, acme: Tenant) -> None:
    client = portal_client(acme, alice)
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("status", ["suspended", "archived"])
def test_sign_in_is_refused_while_suspended_or_archived(
    alice: User, acme: Tenant, status: str
) -> None:
    signed_in = portal_client(acme, alice)
    tenant_status_set(tenant=acme, status=status)
    assert signed_in.get("/").status_code == 403
    client = host_client("acme.localhost")
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert "not available" in response.content.decode()
    # healthz still answers for the load balancer
    assert client.get("/healthz").status_code == 200


def test_removing_a_member_ends_their_access(alice: User, acme: Tenant) -> None:
    client = portal_client(acme, alice)
    assert client.get("/").status_code == 200
    Membership.objects.filter(user=alice, tenant=acme).delete()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login")


def test_password_change(alice: User, acme: Tenant) -> None:
    client = portal_client(acme, alice)
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "A-new-secret-77",
            "new_password2": "A-new-secret-77",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("A-new-secret-77")


def test_password_reset_mails_members_of_this_tenant_only(alice: User, bob: User) -> None:
    host_client("acme.localhost").post("/accounts/password/reset/", {"email": "bob@example.com"})
    assert mail.outbox == []
    host_client("acme.localhost").post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    assert "://acme.localhost/accounts/password/reset/" in mail.outbox[0].body


def test_a_reset_link_sets_a_new_password(alice: User) -> None:
    client = host_client("acme.localhost")
    client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    path = link.split("acme.localhost", 1)[1]
    form_page = client.get(path, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "Fresh-pass-981", "new_password2": "Fresh-pass-981"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Fresh-pass-981")


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_sign_in_is_throttled_after_repeated_failures(alice: User) -> None:
    for _ in range(3):
        sign_in("acme.localhost", "alice", "wrong")
    _, body = sign_in("acme.localhost", "alice")  # right password, but throttled
    assert "Too many failed sign-in attempts" in body


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_look_alike_spellings_share_one_budget_on_a_domain(carol: User) -> None:
    # NFKC folds the fullwidth spelling below to "carol", as the sign-in form does.
    sign_in("acme.localhost", "ｃａｒｏｌ", "wrong")
    sign_in("acme.localhost", "CAROL", "wrong")
    sign_in("acme.localhost", "carol", "wrong")
    _, body = sign_in("acme.localhost", "carol")
    assert "Too many failed sign-in attempts" in body


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_failures_on_another_tenants_domain_lock_no_one_out_of_this_one(
    alice: User, operator: User
) -> None:
    # alice is not even a member of globex: anyone could type these.
    for _ in range(6):
        sign_in("globex.localhost", "alice", "wrong")
        sign_in("globex.localhost", operator.username, "wrong")
    assert "Too many" in sign_in("globex.localhost", "alice")[1]
    assert sign_in("acme.localhost", "alice")[1] == "/"
    staff = host_client("localhost").post(
        "/admin/login/", {"username": operator.username, "password": PASSWORD}
    )
    assert staff.status_code == 302  # the staff admin is a domain of its own


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_successful_sign_in_clears_the_count(alice: User) -> None:
    for _ in range(2):
        sign_in("acme.localhost", "alice", "wrong")
    assert sign_in("acme.localhost", "alice")[1] == "/"
    for _ in range(2):
        sign_in("acme.localhost", "alice", "wrong")
    assert sign_in("acme.localhost", "alice")[1] == "/"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_the_client_ip_comes_from_the_trusted_proxy_only() -> None:
    from django.test import RequestFactory

    from saas.http import client_ip

    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1"
    )
    assert client_ip(request) == "203.0.113.9"


def test_no_admin_on_tenant_domains(alice: User) -> None:
    assert host_client("acme.localhost").get("/admin/").status_code == 404
    assert host_client("acme.localhost").get("/admin/login/").status_code == 404


def test_unknown_host_is_404(db: None) -> None:
    assert host_client("nosuch.localhost").get("/").status_code == 404
