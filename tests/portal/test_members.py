"""Members, for owners: alice (owner of acme) invites people, changes roles and removes members;
carol (a member of acme and globex) may do none of it. Every change is audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from backoffice.models import AuditEntry
from tenants.context import connection_tenant_set
from tenants.models import Domain, Membership, Tenant
from tests.helpers import PASSWORD, make_user, portal_client, session_keys, session_make

pytestmark = pytest.mark.django_db


def _post(client: Client, path: str, data: dict[str, str], follow: bool = False) -> Any:
    response = client.post(path, data, follow=follow)
    connection_tenant_set(None)
    return response


def _role_data(membership: Membership, role: str) -> dict[str, str]:
    return {f"m{membership.pk}-role": role}


def _membership(tenant: Tenant, user: User) -> Membership:
    return Membership.objects.get(tenant=tenant, user=user)


def _link(body: object) -> str:
    match = re.search(r"https?://\S+", str(body))
    assert match, body
    return match.group(0)


def test_it_lists_the_members_with_their_role_and_last_sign_in(
    acme: Tenant, alice: User, carol: User
) -> None:
    # The real sign-in records when, per tenant (never User.last_login, which is global).
    signed_in = Client(HTTP_HOST=acme.primary_domain)
    assert (
        _post(signed_in, "/accounts/login/", {"username": "carol", "password": PASSWORD})[
            "Location"
        ]
        == "/"
    )
    assert _membership(acme, carol).last_signin_at is not None
    assert Membership.objects.get(user=carol, tenant__slug="globex").last_signin_at is None
    body = portal_client(acme, alice).get("/members/").content.decode()
    assert "alice@example.com" in body and "carol@example.com" in body
    assert "Never" in body  # alice was signed in by the test client, not the sign-in form
    assert '<option value="owner" selected>Owner</option>' in body


def test_an_owner_invites_a_new_person_who_chooses_a_password_on_the_tenant_domain(
    acme: Tenant, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    # A spoofed Host: an alias domain of acme's, and a forged forwarded host. The link in the
    # email is still on acme's configured primary domain.
    Domain.objects.create(domain="acme-alias.localhost", tenant=acme, is_primary=False)
    client = Client(HTTP_HOST="acme-alias.localhost", HTTP_X_FORWARDED_HOST="evil.example")
    with schema_context(acme.schema_name):
        client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client, "/members/invite/", {"email": "New.Person@Example.com", "role": "member"}
        )
    assert response.status_code == 302 and response["Location"] == "/members/"
    landed = client.get("/members/").content.decode()
    connection_tenant_set(None)
    assert "new.person@example.com is now a member. We emailed them an invitation" in landed
    user = User.objects.get(email="new.person@example.com")
    assert not user.has_usable_password()
    assert list(user.memberships.values_list("tenant__slug", "role")) == [("acme", "member")]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    link = _link(mail.outbox[0].body)
    assert link.startswith(f"{settings.SITE_SCHEME}://acme.localhost/accounts/password/reset/")
    assert "evil" not in mail.outbox[0].body and "alias" not in mail.outbox[0].body
    # The link lets them choose a password and sign in.
    newcomer = Client(HTTP_HOST="acme.localhost")
    form_page = newcomer.get(link.split("acme.localhost", 1)[1], follow=True)
    set_url = form_page.redirect_chain[-1][0]
    connection_tenant_set(None)
    done = _post(
        newcomer, set_url, {"new_password1": "Chosen-pw-4821", "new_password2": "Chosen-pw-4821"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Chosen-pw-4821")


def test_inviting_someone_with_an_account_adds_them_here_only_and_keeps_their_password(
    acme: Tenant, globex: Tenant, alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = portal_client(acme, alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client, "/members/invite/", {"email": "BOB@example.com", "role": "owner"}, follow=True
        )
    assert "bob@example.com is now an owner. We emailed them a note." in response.content.decode()
    assert sorted(bob.memberships.values_list("tenant__slug", "role")) == [
        ("acme", "owner"),
        ("globex", "member"),
    ]
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)
    assert User.objects.filter(email__iexact="bob@example.com").count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "You have been added to Acme Corp"
    assert _link(mail.outbox[0].body) == f"{settings.SITE_SCHEME}://acme.localhost/accounts/login/"


def test_inviting_a_member_again_is_refused_with_a_clear_error(
    acme: Tenant, alice: User, carol: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            portal_client(acme, alice),
            "/members/invite/",
            {"email": "carol@example.com", "role": "owner"},
        )
    body = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in body and "carol@example.com is already a member of Acme Corp." in body
    assert _membership(acme, carol).role == Membership.Role.MEMBER
    assert mail.outbox == [] and not AuditEntry.objects.exists()


def test_an_invalid_email_is_announced_next_to_its_field(acme: Tenant, alice: User) -> None:
    response = _post(
        portal_client(acme, alice), "/members/invite/", {"email": "nope", "role": "member"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in body and 'href="#id_email"' in body
    assert 'aria-invalid="true"' in body and 'id="id_email_error"' in body


def test_an_owner_changes_a_members_role(acme: Tenant, alice: User, carol: User) -> None:
    membership = _membership(acme, carol)
    response = _post(
        portal_client(acme, alice), f"/members/{membership.pk}/role/", _role_data(membership, "owner"),
        follow=True,
    )  # fmt: skip
    assert "carol@example.com is now an owner." in response.content.decode()
    assert _membership(acme, carol).role == Membership.Role.OWNER
    # carol's globex membership is another tenant's business
    assert Membership.objects.get(user=carol, tenant__slug="globex").role == "member"


def test_removing_a_member_ends_their_sessions_here_only(
    acme: Tenant, alice: User, carol: User
) -> None:
    membership = _membership(acme, carol)
    carol_here = {session_make("acme", carol), session_make("acme", carol)}
    carol_globex = session_make("globex", carol)
    alice_here = session_make("acme", alice)
    client = portal_client(acme, alice)
    confirm = client.get(f"/members/{membership.pk}/remove/").content.decode()
    connection_tenant_set(None)
    assert "Remove carol@example.com" in confirm and "every session they have here ends" in confirm
    assert Membership.objects.filter(pk=membership.pk).exists()  # GET only asks
    response = _post(client, f"/members/{membership.pk}/remove/", {}, follow=True)
    assert "carol@example.com was removed; 2 sessions ended." in response.content.decode()
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not carol_here & session_keys("acme")
    assert {carol_globex} <= session_keys("globex") and {alice_here} <= session_keys("acme")
    assert User.objects.filter(pk=carol.pk).exists()  # the account stays (globex)


def test_the_last_owner_can_neither_be_demoted_nor_removed(acme: Tenant, alice: User) -> None:
    mine = _membership(acme, alice)
    client = portal_client(acme, alice)
    demoted = _post(client, f"/members/{mine.pk}/role/", _role_data(mine, "member"), follow=True)
    removed = _post(client, f"/members/{mine.pk}/remove/", {}, follow=True)
    message = "alice@example.com is the last owner of Acme Corp and cannot be"
    assert f"{message} demoted. Make someone else an owner first." in demoted.content.decode()
    assert f"{message} removed." in removed.content.decode()
    assert _membership(acme, alice).role == Membership.Role.OWNER
    assert not AuditEntry.objects.exists()


def test_an_owner_may_step_down_once_there_is_another_owner(
    acme: Tenant, alice: User, carol: User
) -> None:
    Membership.objects.filter(tenant=acme, user=carol).update(role=Membership.Role.OWNER)
    mine = _membership(acme, alice)
    response = _post(
        portal_client(acme, alice), f"/members/{mine.pk}/role/", _role_data(mine, "member")
    )
    assert response["Location"] == "/"  # the members page is closed to a member
    assert _membership(acme, alice).role == Membership.Role.MEMBER


def test_members_pages_are_for_owners_only(acme: Tenant, alice: User, carol: User) -> None:
    client = portal_client(acme, carol)
    target = _membership(acme, alice)
    home = client.get("/").content.decode()
    assert 'href="/members/"' not in home and "Members" not in home
    assert client.get("/members/").status_code == 403
    assert client.get(f"/members/{target.pk}/remove/").status_code == 403
    assert (
        _post(client, "/members/invite/", {"email": "x@example.com", "role": "owner"}).status_code
        == 403
    )
    assert (
        _post(client, f"/members/{target.pk}/role/", _role_data(target, "member")).status_code
        == 403
    )
    assert _post(client, f"/members/{target.pk}/remove/", {}).status_code == 403
    assert _membership(acme, alice).role == Membership.Role.OWNER
    assert not User.objects.filter(email="x@example.com").exists()
    # The owner sees the link; someone signed out is sent to sign in.
    assert 'href="/members/"' in portal_client(acme, alice).get("/").content.decode()
    anonymous = portal_client(acme).get("/members/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_every_post_needs_the_csrf_token(acme: Tenant, alice: User, carol: User) -> None:
    client = Client(HTTP_HOST=acme.primary_domain, enforce_csrf_checks=True)
    with schema_context(acme.schema_name):
        client.force_login(alice)
    target = _membership(acme, carol)
    for path, data in (
        ("/members/invite/", {"email": "y@example.com", "role": "member"}),
        (f"/members/{target.pk}/role/", _role_data(target, "owner")),
        (f"/members/{target.pk}/remove/", {}),
    ):
        assert _post(client, path, data).status_code == 403
    assert _membership(acme, carol).role == Membership.Role.MEMBER


def test_every_change_is_audited_in_words(acme: Tenant, alice: User) -> None:
    client = portal_client(acme, alice)
    _post(client, "/members/invite/", {"email": "dave@example.com", "role": "member"})
    dave = _membership(acme, User.objects.get(email="dave@example.com"))
    _post(client, f"/members/{dave.pk}/role/", _role_data(dave, "owner"))
    _post(client, f"/members/{dave.pk}/remove/", {})
    entries = list(AuditEntry.objects.order_by("at", "id"))
    assert [e.action for e in entries] == ["member.invite", "member.role_change", "member.remove"]
    assert {(e.actor_id, e.tenant_slug, e.object_id) for e in entries} == {
        (alice.pk, "acme", str(dave.pk))
    }
    assert [e.detail["description"] for e in entries] == [
        "alice invited dave@example.com to Acme Corp as member "
        "(a new account, invited to choose a password).",
        "alice changed the role of dave@example.com in Acme Corp from member to owner.",
        "alice removed dave@example.com from Acme Corp; 0 sessions ended.",
    ]


def test_a_member_of_another_tenant_is_not_listed(acme: Tenant, alice: User, bob: User) -> None:
    other = make_user("erin")
    Membership.objects.create(user=other, tenant=Tenant.objects.get(slug="globex"))
    body = portal_client(acme, alice).get("/members/").content.decode()
    assert "bob@example.com" not in body and "erin@example.com" not in body
