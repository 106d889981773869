"""The session engine: what a session records, and the maximum age enforced on every request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import PASSWORD, host_client, session_keys, session_make
from usersessions.engine import SessionStore
from usersessions.models import Session

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _sign_in(host: str, username: str, **meta: Any) -> tuple[Client, str]:
    client = host_client(host)
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD}, **meta)
    connection_tenant_set(None)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client, client.cookies["sessionid"].value


def _row(schema: str, key: str) -> Session:
    with schema_context(schema):
        return Session.objects.get(pk=key)


def test_a_sign_in_records_user_address_agent_and_time(alice: User) -> None:
    before = timezone.now()
    _, key = _sign_in(
        "acme.localhost", "alice", HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.7"
    )
    row = _row("acme", key)
    assert (row.user_id, row.ip_address, row.user_agent) == (alice.pk, "198.51.100.7", FIREFOX)
    assert before <= row.created_at <= timezone.now()


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(alice: User) -> None:
    _, key = _sign_in(
        "acme.localhost", "alice",
        HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.23", REMOTE_ADDR="10.0.0.1",
    )  # fmt: skip
    assert _row("acme", key).ip_address == "198.51.100.23"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_malformed_forwarded_address_is_not_stored_and_does_not_fail(alice: User) -> None:
    client, key = _sign_in("acme.localhost", "alice", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert _row("acme", key).ip_address is None
    assert client.get("/").status_code == 200


def test_saving_again_keeps_what_was_recorded_when_the_key_was_issued(alice: User) -> None:
    key = session_make("acme", alice, age=timedelta(hours=5), user_agent="first-agent")
    created = _row("acme", key).created_at
    with schema_context("acme"):
        store = SessionStore(key)
        store.client_ip, store.user_agent = "192.0.2.99", "another-agent"
        store["cart"] = [1, 2]
        store.save()
    row = _row("acme", key)
    assert (row.created_at, row.ip_address, row.user_agent) == (
        created,
        "203.0.113.9",
        "first-agent",
    )
    assert row.get_decoded()["cart"] == [1, 2] and row.user_id == alice.pk


def test_a_sign_in_issues_a_new_key_with_a_fresh_creation_time(alice: User) -> None:
    client = host_client("acme.localhost")
    anonymous = session_make("acme", age=timedelta(days=3))
    client.cookies["sessionid"] = anonymous
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    connection_tenant_set(None)
    assert response.status_code == 302
    key = client.cookies["sessionid"].value
    assert key != anonymous and anonymous not in session_keys("acme")
    assert timezone.now() - _row("acme", key).created_at < timedelta(minutes=1)


def _acme_policy(days: int | None) -> None:
    Tenant.objects.filter(slug="acme").update(session_max_age_days=days)


def test_a_session_older_than_the_tenants_maximum_age_is_refused(alice: User) -> None:
    key = session_make("acme", alice, age=timedelta(days=3), expires_in=timedelta(days=10))
    client = host_client("acme.localhost")
    client.cookies["sessionid"] = key
    _acme_policy(5)
    assert client.get("/").status_code == 200  # younger than the limit

    _acme_policy(2)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert key not in session_keys("acme")  # flushed, not just ignored
    assert response.cookies["sessionid"].value == ""  # and the cookie dropped


def test_without_a_policy_only_normal_expiry_applies(alice: User) -> None:
    old = session_make("acme", alice, age=timedelta(days=400), expires_in=timedelta(days=1))
    expired = session_make("acme", alice, expires_in=timedelta(seconds=-1))
    for key, status in ((old, 200), (expired, 302)):
        client = host_client("acme.localhost")
        client.cookies["sessionid"] = key
        assert client.get("/").status_code == status


@override_settings(STAFF_SESSION_MAX_AGE_DAYS=1)
def test_the_staff_policy_applies_to_staff_sessions_in_every_admin(viewer: User) -> None:
    fresh = session_make("public", viewer)
    stale = session_make("public", viewer, age=timedelta(days=2))
    for path in ("/admin/", "/admin/t/acme/"):
        client = host_client("localhost")
        client.cookies["sessionid"] = fresh
        assert client.get(path).status_code == 200
    client = host_client("localhost")
    client.cookies["sessionid"] = stale
    # Loaded in public before the tenant admin switches schema: the staff policy applies.
    assert client.get("/admin/t/acme/").status_code == 302
    assert stale not in session_keys("public")


def test_a_request_loads_its_session_in_one_query(alice: User) -> None:
    client = host_client("acme.localhost")
    client.cookies["sessionid"] = session_make("acme", alice)
    _acme_policy(30)  # the policy costs no query: it is on the tenant row already loaded
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    session_sql = [q["sql"] for q in queries if "usersessions_session" in q["sql"]]
    assert len(session_sql) == 1 and session_sql[0].startswith("SELECT")
