"""Sessions in the admin: each tenant's in its tenant admin, staff ones in the platform admin;
counts, the list, ending sessions (selected, per user, all), run cleanup now, the policy field
on the tenant form. Operators act, viewers look; every action is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from backoffice.models import AuditEntry
from backoffice.roles import OPERATORS
from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import (
    TENANT_PAGE_INLINES,
    host_client,
    make_user,
    session_keys,
    session_make,
    wait_for_state,
)

LIST = "/admin/t/acme/usersessions/session/"


@pytest.mark.django_db
class TestTheTenantAdmin:
    def test_it_counts_and_lists_that_tenants_active_sessions(
        self, operator_client: Client, alice: User, bob: User
    ) -> None:
        session_make("acme", alice, user_agent="Alice-Laptop/1.0", ip="198.51.100.4")
        session_make("acme", alice, expires_in=timedelta(seconds=-1), user_agent="Alice-Old/0.1")
        session_make("globex", bob, user_agent="Bob-Phone/2.0")
        body = operator_client.get(LIST).content.decode()
        assert "<strong>1</strong> active session," in body
        assert "<strong>1</strong> expired or past the maximum age" in body
        assert "Alice-Laptop/1.0" in body and "198.51.100.4" in body and ">alice<" in body
        assert "Alice-Old/0.1" not in body and "Bob-Phone" not in body
        expired = operator_client.get(LIST + "?state=expired").content.decode()
        assert "Alice-Old/0.1" in expired and "Alice-Laptop/1.0" not in expired

    def test_it_searches_by_user_address_and_agent(
        self, operator_client: Client, alice: User, carol: User
    ) -> None:
        session_make("acme", alice, user_agent="Alice-Laptop/1.0", ip="198.51.100.4")
        session_make("acme", carol, user_agent="Carol-Phone/2.0", ip="192.0.2.8")
        for query in ("alice", "198.51.100", "laptop"):
            body = operator_client.get(LIST, {"q": query}).content.decode()
            assert "Alice-Laptop/1.0" in body and "Carol-Phone/2.0" not in body, query

    def test_the_counts_follow_the_tenants_maximum_age(
        self, operator_client: Client, alice: User
    ) -> None:
        session_make("acme", alice, age=timedelta(days=10), expires_in=timedelta(days=5))
        Tenant.objects.filter(slug="acme").update(session_max_age_days=7)
        body = operator_client.get(LIST).content.decode()
        assert "<strong>0</strong> active sessions," in body and "<strong>7 days</strong>" in body

    def test_operators_end_selected_sessions(
        self, operator_client: Client, operator: User, alice: User
    ) -> None:
        one, two = session_make("acme", alice), session_make("acme", alice)
        response = operator_client.post(LIST, {"action": "end_selected", "_selected_action": [one]})
        assert response.status_code == 302
        assert session_keys("acme") == {two}
        entry = AuditEntry.objects.get(action="sessions.end")
        assert (entry.actor, entry.tenant_slug, entry.detail) == (
            operator,
            "acme",
            {"sessions": 1, "scope": "selected"},
        )

    def test_operators_end_every_session_of_a_user(
        self, operator_client: Client, alice: User, carol: User
    ) -> None:
        first = session_make("acme", carol)
        session_make("acme", carol, expires_in=timedelta(seconds=-1))  # listed or not
        alices = session_make("acme", alice)
        operator_client.post(LIST, {"action": "end_users", "_selected_action": [first]})
        assert session_keys("acme") == {alices}
        assert AuditEntry.objects.get(action="sessions.end").detail["users"] == ["carol"]

    def test_operators_end_every_session_of_the_tenant_after_confirming(
        self, operator_client: Client, alice: User
    ) -> None:
        session_make("acme", alice)
        session_make("acme")
        page = operator_client.get(LIST + "end-all/").content.decode()
        assert "Every session of this tenant ends" in page
        assert session_keys("acme") != set()  # looking ends nothing
        response = operator_client.post(LIST + "end-all/")
        assert response.status_code == 302 and response["Location"] == LIST
        assert session_keys("acme") == set()
        assert AuditEntry.objects.get(action="sessions.end").detail == {
            "sessions": 2,
            "scope": "all",
        }

    def test_viewers_look_but_cannot_end_anything(
        self, viewer_client: Client, viewer: User, alice: User
    ) -> None:
        key = session_make("acme", alice)
        page = viewer_client.get(LIST).content.decode()
        assert ">alice<" in page
        assert "Run cleanup now" not in page and 'name="_selected_action"' not in page
        assert viewer_client.post(LIST + "end-all/").status_code == 403
        assert viewer_client.post(LIST + "cleanup/").status_code == 403
        viewer_client.post(LIST, {"action": "end_selected", "_selected_action": [key]})
        assert session_keys("acme") == {key}
        assert AuditEntry.objects.filter(action="denied", actor=viewer).count() == 2
        assert not AuditEntry.objects.filter(action="sessions.end").exists()


@pytest.mark.django_db
def test_the_platform_admin_lists_staff_sessions_and_end_all_spares_your_own(
    operator_client: Client, operator: User, viewer: User
) -> None:
    other_staff = session_make("public", viewer, user_agent="Viewer-Browser/3")
    body = operator_client.get("/admin/usersessions/session/").content.decode()
    assert "Viewer-Browser/3" in body and ">victor<" in body
    page = operator_client.get("/admin/usersessions/session/end-all/").content.decode()
    assert "except yours" in page
    operator_client.post("/admin/usersessions/session/end-all/")
    assert other_staff not in session_keys("public")
    assert operator_client.get("/admin/").status_code == 200  # still signed in


@pytest.mark.django_db
def test_the_maximum_age_is_edited_on_the_tenant_form_and_checked(
    operator_client: Client, acme: Tenant
) -> None:
    form = {
        "name": acme.name, "timezone": acme.timezone,
        **TENANT_PAGE_INLINES,
    }  # fmt: skip
    url = f"/admin/tenants/tenant/{acme.pk}/change/"
    assert 'name="session_max_age_days"' in operator_client.get(url).content.decode()
    for bad, error in (("0", "greater than or equal to 1"), ("x", "Enter a whole number")):
        response = operator_client.post(url, {**form, "session_max_age_days": bad})
        assert response.status_code == 200 and error in response.content.decode()
    acme.refresh_from_db()
    assert acme.session_max_age_days is None
    assert operator_client.post(url, {**form, "session_max_age_days": "14"}).status_code == 302
    acme.refresh_from_db()
    assert acme.session_max_age_days == 14
    assert operator_client.post(url, {**form, "session_max_age_days": ""}).status_code == 302
    acme.refresh_from_db()
    assert acme.session_max_age_days is None


@pytest.mark.usefixtures("live_db", "celery_worker")
@pytest.mark.parametrize(
    "url", [LIST + "cleanup/", "/admin/tenants/tenant/"], ids=["tenant-admin", "tenant-list"]
)
def test_run_cleanup_now_lands_on_its_jobrun_with_the_counts(url: str) -> None:
    operator = make_user("live-olga", is_staff=True)
    operator.groups.add(Group.objects.get(name=OPERATORS))
    client = host_client("localhost", operator)
    acme = Tenant.objects.get(slug="acme")
    Tenant.objects.filter(pk=acme.pk).update(session_max_age_days=14)
    session_make("acme", age=timedelta(days=15), expires_in=timedelta(days=1))
    session_make("acme", expires_in=timedelta(seconds=-1))
    kept = session_make("acme")
    globex = {session_make("globex", expires_in=timedelta(seconds=-1))}

    data = {"action": "sessions_cleanup", "_selected_action": [acme.pk]} if "tenant/" in url else {}
    response = client.post(url, data)
    run = JobRun.objects.get(task_name="usersessions.tasks.sessions_cleanup_task")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/jobs/jobrun/{run.pk}/change/"
    run = wait_for_state(run.task_id, "succeeded")
    assert run.result_summary is not None
    assert (run.tenant_slug, run.result_summary["deleted"], run.result_summary["remaining"]) == (
        "acme",
        2,
        1,
    )
    assert run.result_summary["max_age_days"] == 14
    page = client.get(response["Location"]).content.decode()
    assert "succeeded" in page and '<th scope="row">deleted</th><td>2</td>' in page
    assert session_keys("acme") == {kept} and session_keys("globex") == globex
    assert AuditEntry.objects.filter(
        action="job.start:usersessions.tasks.sessions_cleanup_task", tenant=acme
    ).exists()
