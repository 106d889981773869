"""Sign-in throttling, the same for the staff admin and the portal: failures only, scoped per
domain, a per-person ceiling across domains, a per-address limit, every lockout audited."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client, override_settings

from accounts.models import User
from accounts.throttle import signin_attempt
from backoffice.models import AuditEntry
from tests.helpers import PASSWORD, host_client

pytestmark = pytest.mark.django_db


def staff_sign_in(username: str, password: str) -> tuple[int, str]:
    response = host_client("localhost").post(
        "/admin/login/", {"username": username, "password": password}
    )
    return response.status_code, response.content.decode()


@override_settings(LOGIN_FAILURE_LIMIT=5)
def test_the_staff_admin_sign_in_is_throttled_and_the_lockout_audited(operator: User) -> None:
    for _ in range(25):
        staff_sign_in(operator.username, "wrong")
    status, body = staff_sign_in(operator.username, PASSWORD)  # the right password, too late
    assert status == 200 and "Too many failed sign-in attempts" in body
    lockouts = AuditEntry.objects.filter(action="signin.lockout")
    assert [(e.tenant_slug, e.detail["username"]) for e in lockouts] == [("", operator.username)]


def test_a_whole_office_behind_one_address_signs_in_all_day(alice: User) -> None:
    # 30 successful sign-ins from one address within the window: none counts.
    for _ in range(30):
        client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="198.51.100.7")
        response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
        assert response.status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_one_person_guessed_across_many_domains_hits_the_ceiling() -> None:
    # A scope locks at 2; the ceiling across tenant domains is 2 x 4 = 8.
    for scope in ("t1", "t2", "t3", "t4"):
        for _ in range(2):
            attempt = signin_attempt(scope=scope, username="dora", ip="")
            assert attempt.allowed
            attempt.failed()
    assert not signin_attempt(scope="t5", username="dora", ip="").allowed
    assert signin_attempt(scope="public", username="dora", ip="").allowed  # staff: its own
    assert AuditEntry.objects.filter(action="signin.lockout").count() == 1


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_an_address_trying_many_people_is_stopped() -> None:
    for n in range(20):  # 2 x 10 failures from one address, each for another person
        attempt = signin_attempt(scope="acme", username=f"user{n}", ip="203.0.113.50")
        assert attempt.allowed
        attempt.failed()
    assert not signin_attempt(scope="acme", username="someone-new", ip="203.0.113.50").allowed
    assert signin_attempt(scope="acme", username="someone-new", ip="203.0.113.51").allowed


def test_a_reset_link_is_on_the_tenants_domain_whatever_the_host_header(alice: User) -> None:
    client = Client(HTTP_HOST="acme.localhost:31337")
    client.post("/accounts/password/reset/", {"email": alice.email})
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "://acme.localhost/accounts/password/reset/" in body and "31337" not in body
