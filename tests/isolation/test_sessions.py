"""Sessions stay per tenant: cleaning, ending or refusing sessions in acme leaves globex's alone,
including those of carol, who is a member of both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from backoffice.roles import OPERATORS
from tenants.models import Membership, Tenant
from tenants.services import membership_remove, tenant_status_set
from tests.helpers import (
    PASSWORD,
    host_client,
    make_user,
    session_keys,
    session_make,
    wait_for_state,
)
from usersessions.services import sessions_cleanup
from usersessions.tasks import sessions_cleanup_task

EXPIRED_IN = timedelta(seconds=-1)


def _carol_everywhere(carol: User) -> dict[str, dict[str, str]]:
    """Carol's sessions: one live and one expired in each tenant, by schema and kind."""
    return {
        schema: {
            "live": session_make(schema, carol),
            "expired": session_make(schema, carol, expires_in=EXPIRED_IN),
        }
        for schema in ("acme", "globex")
    }


def _keys(sessions: dict[str, str]) -> set[str]:
    return set(sessions.values())


@pytest.mark.usefixtures("live_db")
def test_cleaning_acme_leaves_globex_untouched() -> None:
    carol = make_user("live-carol")
    for tenant in Tenant.objects.filter(slug__in=["acme", "globex"]):
        Membership.objects.create(user=carol, tenant=tenant)
    Tenant.objects.filter(slug__in=["acme", "globex"]).update(session_max_age_days=1)
    mine = _carol_everywhere(carol)
    session_make("acme", age=timedelta(days=3))  # past acme's maximum age
    old_globex = session_make("globex", age=timedelta(days=3))
    globex_before = session_keys("globex")

    result = sessions_cleanup(schema_name="acme")
    assert result["deleted"] == 2 and session_keys("acme") == {mine["acme"]["live"]}
    assert session_keys("globex") == globex_before == _keys(mine["globex"]) | {old_globex}


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_the_cleanup_job_for_acme_deletes_in_acme_only() -> None:
    for schema in ("acme", "globex", "public"):
        session_make(schema, expires_in=EXPIRED_IN)
    before = {s: session_keys(s) for s in ("globex", "public")}
    run = wait_for_state(
        sessions_cleanup_task.delay_for(Tenant.objects.get(slug="acme")).id, "succeeded"
    )
    assert run.result_summary is not None
    assert run.result_summary["deleted"] == 1 and session_keys("acme") == set()
    assert {s: session_keys(s) for s in ("globex", "public")} == before


@pytest.mark.django_db
def test_acmes_maximum_age_refuses_acme_sessions_only(carol: User) -> None:
    Tenant.objects.filter(slug="acme").update(session_max_age_days=2)
    for host, schema, status in (("acme", "acme", 302), ("globex", "globex", 200)):
        client = host_client(f"{host}.localhost")
        client.cookies["sessionid"] = session_make(schema, carol, age=timedelta(days=3))
        assert client.get("/").status_code == status


@pytest.mark.django_db
def test_removing_carol_from_acme_ends_her_acme_sessions_only(carol: User, acme: Tenant) -> None:
    mine = _carol_everywhere(carol)
    membership_remove(tenant=acme, user=carol)
    assert session_keys("acme") == set() and session_keys("globex") == _keys(mine["globex"])


@pytest.mark.django_db
def test_suspending_acme_ends_acme_sessions_only(
    carol: User, acme: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    mine = _carol_everywhere(carol)
    with django_capture_on_commit_callbacks(execute=True):
        tenant_status_set(tenant=acme, status="suspended")
    assert session_keys("acme") == set() and session_keys("globex") == _keys(mine["globex"])


@pytest.mark.django_db
class TestTheTenantAdmin:
    LIST = "/admin/t/acme/usersessions/session/"

    @pytest.fixture
    def client(self, operator_client: Client) -> Client:
        return operator_client

    def test_ending_a_users_sessions_in_acme_leaves_their_globex_ones(
        self, client: Client, carol: User
    ) -> None:
        mine = _carol_everywhere(carol)
        client.post(self.LIST, {"action": "end_users", "_selected_action": [mine["acme"]["live"]]})
        assert session_keys("acme") == set() and session_keys("globex") == _keys(mine["globex"])

    def test_ending_every_acme_session_leaves_globex(self, client: Client, carol: User) -> None:
        mine = _carol_everywhere(carol)
        client.post(self.LIST + "end-all/")
        assert session_keys("acme") == set() and session_keys("globex") == _keys(mine["globex"])

    def test_a_globex_session_cannot_be_ended_from_acmes_admin(
        self, client: Client, carol: User
    ) -> None:
        mine = _carol_everywhere(carol)
        globex = _keys(mine["globex"])
        # Selected together with an acme session: the action runs (acme's ends), globex's ids
        # match nothing in acme's schema.
        selected = [mine["acme"]["live"], *globex]
        response = client.post(self.LIST, {"action": "end_selected", "_selected_action": selected})
        assert response.status_code == 302 and response["Location"] == self.LIST
        assert mine["acme"]["live"] not in session_keys("acme")
        assert session_keys("globex") == globex

    def test_acmes_list_shows_acme_sessions_only(self, client: Client, carol: User) -> None:
        session_make("acme", carol, user_agent="Carol-At-Acme/1")
        session_make("globex", carol, user_agent="Carol-At-Globex/1")
        body = client.get(self.LIST).content.decode()
        assert "Carol-At-Acme/1" in body and "Carol-At-Globex/1" not in body
        assert "<strong>1</strong> active session," in body


@pytest.mark.django_db
def test_a_viewer_cannot_end_the_sessions_of_any_tenant(viewer_client: Client) -> None:
    key = session_make("globex")
    assert viewer_client.post("/admin/t/globex/usersessions/session/end-all/").status_code == 403
    assert session_keys("globex") == {key}


@pytest.mark.django_db
def test_an_operator_in_acmes_admin_never_ends_staff_sessions(operator_client: Client) -> None:
    other = make_user("olivia", is_staff=True)
    other.groups.add(Group.objects.get(name=OPERATORS))
    staff = session_make("public", other)
    acmes = {session_make("acme"), session_make("acme")}
    own = operator_client.cookies["sessionid"].value
    response = operator_client.post("/admin/t/acme/usersessions/session/end-all/")
    assert response.status_code == 302
    assert acmes and session_keys("acme") == set()  # acme's ended...
    assert {staff, own} <= session_keys("public")  # ...staff sessions (public) did not
    assert Client(HTTP_HOST="localhost").login(username="olivia", password=PASSWORD)
