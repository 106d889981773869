"""The portal's "your sessions" page: a signed-in user sees their own active sessions on this
tenant's domain and ends the others, never the current one, never someone else's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import User
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import portal_client, session_keys, session_make
from usersessions.models import Session

pytestmark = pytest.mark.django_db


def _signed_in(tenant: Tenant, user: User, agent: str = "Current-Browser/1") -> Client:
    client = Client(HTTP_HOST=tenant.primary_domain, HTTP_USER_AGENT=agent)
    client.cookies["sessionid"] = session_make(tenant.schema_name, user, user_agent=agent)
    return client


def _ref(key: str) -> str:
    return Session(session_key=key).ref


def test_it_lists_your_active_sessions_here_with_the_current_one_marked(
    acme: Tenant, carol: User, alice: User
) -> None:
    client = _signed_in(acme, carol)
    session_make("acme", carol, user_agent="Carol-Phone/5", ip="192.0.2.50")
    session_make("acme", carol, user_agent="Carol-Expired/0", expires_in=timedelta(seconds=-1))
    session_make("globex", carol, user_agent="Carol-At-Globex/1")
    session_make("acme", alice, user_agent="Alice-Laptop/1")
    body = client.get("/accounts/sessions/").content.decode()
    assert "Current-Browser/1" in body and "This session" in body
    assert "Carol-Phone/5" in body and "192.0.2.50" in body
    for absent in ("Carol-Expired/0", "Carol-At-Globex/1", "Alice-Laptop/1"):
        assert absent not in body
    # Sessions are named by a digest in the page, never by their key (a credential).
    assert client.cookies["sessionid"].value not in body


def test_you_end_another_of_your_sessions(acme: Tenant, alice: User) -> None:
    client = _signed_in(acme, alice)
    other = session_make("acme", alice, user_agent="Forgotten-Tablet/2")
    response = client.post("/accounts/sessions/end/", {"session": _ref(other)}, follow=True)
    connection_tenant_set(None)
    body = response.content.decode()
    assert "1 session ended." in body and "Forgotten-Tablet/2" not in body
    assert other not in session_keys("acme")
    assert client.get("/").status_code == 200  # still signed in here


def test_you_end_every_other_session_but_stay_signed_in(carol: User) -> None:
    acme = Tenant.objects.get(slug="acme")
    client = _signed_in(acme, carol)
    current = client.cookies["sessionid"].value
    session_make("acme", carol)
    session_make("acme", carol)
    globex = session_make("globex", carol)
    client.post("/accounts/sessions/end/", {"all_others": "1"})
    assert session_keys("acme", user_id=carol.pk) == {current}
    assert globex in session_keys("globex")  # another tenant's session is not this page's
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("whose", ["current", "someone else's", "made up"])
def test_you_cannot_end_the_current_or_someone_elses_session_here(
    acme: Tenant, alice: User, carol: User, whose: str
) -> None:
    client = _signed_in(acme, alice)
    carols = session_make("acme", carol)
    target = {
        "current": _ref(client.cookies["sessionid"].value),
        "someone else's": _ref(carols),
        "made up": "0" * 24,
    }[whose]
    before = session_keys("acme")
    response = client.post("/accounts/sessions/end/", {"session": target}, follow=True)
    connection_tenant_set(None)
    assert "not one of your other sessions" in response.content.decode()
    assert session_keys("acme") == before


def test_the_page_needs_a_signed_in_member(acme: Tenant, alice: User) -> None:
    response = portal_client(acme).get("/accounts/sessions/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert _signed_in(acme, alice).get("/accounts/sessions/end/").status_code == 405
