"""The members pages never reach another tenant: alice owns acme; bob is a member of globex.
Whatever id alice sends on acme's domain, only acme's memberships are found."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from backoffice.models import AuditEntry
from portal.members import member_get, member_remove, member_role_set
from tenants.context import connection_tenant_set
from tenants.models import Membership, Tenant
from tests.helpers import portal_client, session_keys, session_make

pytestmark = pytest.mark.django_db


def _post(client: Client, path: str, data: dict[str, str]) -> Any:
    response = client.post(path, data)
    connection_tenant_set(None)
    return response


def test_an_owner_of_acme_cannot_read_change_or_remove_a_globex_membership(
    acme: Tenant, globex: Tenant, alice: User, bob: User
) -> None:
    theirs = Membership.objects.get(tenant=globex, user=bob)
    bobs_session = session_make("globex", bob)
    client = portal_client(acme, alice)
    assert client.get(f"/members/{theirs.pk}/remove/").status_code == 404
    connection_tenant_set(None)
    assert (
        _post(client, f"/members/{theirs.pk}/role/", {f"m{theirs.pk}-role": "owner"}).status_code
        == 404
    )
    assert _post(client, f"/members/{theirs.pk}/remove/", {}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == Membership.Role.MEMBER and theirs.tenant_id == globex.pk
    assert bobs_session in session_keys("globex")
    assert not AuditEntry.objects.exists()
    assert "bob@example.com" not in client.get("/members/").content.decode()


def test_the_services_find_memberships_within_the_tenant_they_are_given(
    acme: Tenant, globex: Tenant, alice: User, bob: User
) -> None:
    theirs = Membership.objects.get(tenant=globex, user=bob)
    with pytest.raises(Membership.DoesNotExist):
        member_get(tenant=acme, membership_id=theirs.pk)
    with pytest.raises(Membership.DoesNotExist):
        member_role_set(tenant=acme, actor=alice, membership_id=theirs.pk, role="owner")
    with pytest.raises(Membership.DoesNotExist):
        member_remove(tenant=acme, actor=alice, membership_id=theirs.pk)
    assert Membership.objects.filter(pk=theirs.pk, role=Membership.Role.MEMBER).exists()


def test_globex_owners_cannot_act_on_acme_members_through_their_own_domain(
    acme: Tenant, globex: Tenant, alice: User, bob: User
) -> None:
    Membership.objects.filter(tenant=globex, user=bob).update(role=Membership.Role.OWNER)
    mine = Membership.objects.get(tenant=acme, user=alice)
    client = portal_client(globex, bob)
    assert _post(client, f"/members/{mine.pk}/remove/", {}).status_code == 404
    assert Membership.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize("email", ["bob@example.com", "someone.new@example.com"])
def test_inviting_on_acme_creates_a_membership_on_acme_only(
    acme: Tenant, globex: Tenant, alice: User, bob: User, carol: User, email: str
) -> None:
    before = set(
        Membership.objects.exclude(tenant=acme).values_list("pk", "tenant_id", "user_id", "role")
    )
    response = _post(
        portal_client(acme, alice), "/members/invite/", {"email": email, "role": "owner"}
    )
    assert response.status_code == 302
    after = set(
        Membership.objects.exclude(tenant=acme).values_list("pk", "tenant_id", "user_id", "role")
    )
    assert after == before
    invited = User.objects.get(email=email)
    assert Membership.objects.get(user=invited, tenant=acme).role == Membership.Role.OWNER
    entry = AuditEntry.objects.get(action="member.invite")
    assert entry.tenant_slug == "acme"
