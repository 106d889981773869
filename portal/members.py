"""A tenant's members, managed by its owners from the portal: invite, change a role, remove.

Every function takes the tenant the request is on and finds memberships *within it* only (a
membership id of another tenant is `Membership.DoesNotExist`, never a change there). Changes to
one tenant's members take turns (its tenant row is locked), so two owners demoting each other
at once cannot leave the tenant without one. Each change is audited in the staff audit log with
a sentence a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from backoffice.services import audit_record
from tenants.invitations import added_send, invite_send
from tenants.models import Membership, Tenant
from tenants.services import owner_ensure
from usersessions.services import sessions_end


class MemberChangeRefused(ValueError):
    """The change would leave the tenant without an owner, or repeats an existing membership.
    The message is written for the person who asked."""


@dataclass(frozen=True)
class Invitation:
    membership: Membership
    new_user: bool  # a new account, emailed a link to choose its password


def members_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def member_get(*, tenant: Tenant, membership_id: int) -> Membership:
    """One membership of this tenant; Membership.DoesNotExist for any other id."""
    return Membership.objects.select_related("user").get(pk=membership_id, tenant=tenant)


def member_signed_in(*, tenant: Tenant, user: User) -> None:
    Membership.objects.filter(tenant=tenant, user=user).update(last_signin_at=timezone.now())


def member_invite(
    *, tenant: Tenant, actor: User, email: str, role: str, ip_address: str | None = None
) -> Invitation:
    """Make the person with this email a member of `tenant` (and of no other tenant).

    Someone without an account gets one, with no usable password, and an email with a link to
    choose it on the tenant's own domain; someone with an account is told they were added.
    The email leaves once the transaction commits."""
    with transaction.atomic():
        _lock(tenant)
        user, created = owner_ensure(email=email)
        if Membership.objects.filter(tenant=tenant, user=user).exists():
            raise MemberChangeRefused(f"{user.email} is already a member of {tenant.name}.")
        membership = Membership.objects.create(tenant=tenant, user=user, role=role)
        news = "a new account, invited to choose a password" if created else "an existing account"
        _audit(
            actor, "member.invite", tenant, membership, ip_address,
            f"{actor} invited {user.email} to {tenant.name} as {_role(role)} ({news}).",
            email=user.email, role=role, new_user=created,
        )  # fmt: skip
        # A person who never chose a password (invited elsewhere earlier) gets the link too.
        send = invite_send if created or not user.has_usable_password() else added_send
        transaction.on_commit(lambda: send(user=user, tenant=tenant))
    return Invitation(membership=membership, new_user=created)


def member_role_set(
    *, tenant: Tenant, actor: User, membership_id: int, role: str, ip_address: str | None = None
) -> Membership:
    with transaction.atomic():
        _lock(tenant)
        membership = member_get(tenant=tenant, membership_id=membership_id)
        old = membership.role
        if old == role:
            return membership
        if old == Membership.Role.OWNER:
            _last_owner_refuse(tenant, membership, "demoted")
        membership.role = role
        membership.save(update_fields=["role"])
        _audit(
            actor, "member.role_change", tenant, membership, ip_address,
            f"{actor} changed the role of {_who(membership)} in {tenant.name} "
            f"from {_role(old)} to {_role(role)}.",
            email=membership.user.email, role=role, old_role=old,
        )  # fmt: skip
    return membership


def member_remove(
    *, tenant: Tenant, actor: User, membership_id: int, ip_address: str | None = None
) -> int:
    """Take a member out of `tenant`; their sessions on its domain end. Returns how many."""
    with transaction.atomic():
        _lock(tenant)
        membership = member_get(tenant=tenant, membership_id=membership_id)
        if membership.role == Membership.Role.OWNER:
            _last_owner_refuse(tenant, membership, "removed")
        ended = sessions_end(schema_name=tenant.schema_name, user_ids=[membership.user_id])
        _audit(
            actor, "member.remove", tenant, membership, ip_address,
            f"{actor} removed {_who(membership)} from {tenant.name}; "
            f"{ended} session{'s' if ended != 1 else ''} ended.",
            email=membership.user.email, role=membership.role, sessions_ended=ended,
        )  # fmt: skip
        membership.delete()  # its post_delete receiver ends any session started since
    return ended


def _lock(tenant: Tenant) -> None:
    Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list("pk").first()


def _last_owner_refuse(tenant: Tenant, membership: Membership, what: str) -> None:
    others = Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise MemberChangeRefused(
            f"{_who(membership)} is the last owner of {tenant.name} and cannot be {what}. "
            "Make someone else an owner first."
        )


def _audit(
    actor: User,
    action: str,
    tenant: Tenant,
    membership: Membership,
    ip_address: str | None,
    description: str,
    **detail: object,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        tenant=tenant,
        obj=membership,
        detail={"description": description, "via": "portal", **detail},
        ip_address=ip_address,
    )


def _who(membership: Membership) -> str:
    user = membership.user
    name = user.get_full_name()
    return f"{name} ({user.email})" if name else user.email


def _role(role: str) -> str:
    return str(Membership.Role(role).label).lower()
