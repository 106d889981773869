"""Tenant lifecycle: provisioning, status changes, members. Called by the admin and commands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.defaults import TENANT_DEFAULTS
from tenants.models import Domain, Membership, Tenant, schema_name_for, slug_validate
from tenants.models import timezone_validate as tz_validate
from tenants.provisioning import TemplateUnavailable, schema_create, schema_template_get
from tenants.signals import tenant_status_changed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionResult:
    tenant: Tenant
    path: str  # "template" or "migrations"


def tenant_provision(
    *,
    name: str,
    slug: str,
    owner: User | None = None,
    timezone_name: str = "UTC",
    fast: bool = True,
) -> ProvisionResult:
    """Create a tenant: row, domain, first owner, schema and default rows, in one transaction.

    All or nothing: PostgreSQL DDL is transactional, so a failure leaves no half-made tenant,
    and no other process (beat, workers) sees the tenant before it is complete and active.
    """
    slug_validate(slug)
    tz_validate(timezone_name)
    if fast:
        try:
            schema_template_get()  # builds the template first if needed, outside the transaction
        except TemplateUnavailable as exc:
            logger.warning("provisioning %s by migrations: %s", slug, exc)
            fast = False
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name=name,
            slug=slug,
            schema_name=schema_name_for(slug),
            timezone=timezone_name,
            status=Tenant.Status.PROVISIONING,
        )
        Domain.objects.create(domain=tenant.primary_domain, tenant=tenant, is_primary=True)
        if owner is not None:
            Membership.objects.create(user=owner, tenant=tenant, role=Membership.Role.OWNER)
        path = schema_create(tenant.schema_name, fast=fast)
        tenant_defaults_apply(tenant=tenant)
        tenant.status = Tenant.Status.ACTIVE
        tenant.status_changed_at = timezone.now()
        tenant.save(update_fields=["status", "status_changed_at", "updated_at"])
    return ProvisionResult(tenant=tenant, path=path)


def tenant_defaults_apply(*, tenant: Tenant) -> None:
    with schema_context(tenant.schema_name):
        for make in TENANT_DEFAULTS:
            make(tenant)


_ALLOWED_TRANSITIONS = {
    Tenant.Status.ACTIVE: {Tenant.Status.SUSPENDED, Tenant.Status.ARCHIVED},
    Tenant.Status.SUSPENDED: {Tenant.Status.ACTIVE, Tenant.Status.ARCHIVED},
    # Deleting (backups.offboarding) is only from archived, and final.
    Tenant.Status.ARCHIVED: {Tenant.Status.ACTIVE, Tenant.Status.DELETED},
    Tenant.Status.PROVISIONING: set(),
    # Only the restore that put a tenant in this state takes it out (backups.restore).
    Tenant.Status.RESTORING: set(),
    Tenant.Status.DELETED: set(),
}


class TransitionRefused(ValueError):
    pass


def tenant_status_set(*, tenant: Tenant, status: str) -> Tenant:
    """Move a tenant to another status. Suspended and archived tenants refuse sign-in; receivers
    of `tenant_status_changed` end sessions, skip tasks and drop beat entries."""

    def allowed(locked: Tenant) -> None:
        if locked.is_public:
            raise TransitionRefused("The public tenant has no status to change.")
        if status not in _ALLOWED_TRANSITIONS[Tenant.Status(locked.status)]:
            raise TransitionRefused(f"A tenant cannot go from {locked.status} to {status}.")

    return tenant_status_write(tenant_id=tenant.pk, status=status, check=allowed)


def tenant_status_write(*, tenant_id: int, status: str, check: Callable[[Tenant], None]) -> Tenant:
    """The one status write: lock the row, let `check` refuse the move from the row as it is
    (it raises), write, and tell receivers after the commit. `tenant_status_set` checks the
    staff transitions; a restore checks its own (only it may move a tenant out of restoring)."""
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant_id)
        old = locked.status
        check(locked)
        locked.status = status
        locked.status_changed_at = timezone.now()
        locked.save(update_fields=["status", "status_changed_at", "updated_at"])
        transaction.on_commit(
            lambda: tenant_status_changed.send(
                sender=Tenant, tenant=locked, old_status=old, new_status=status
            )
        )
    return locked


def membership_set(*, tenant: Tenant, user: User, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


def membership_remove(*, tenant: Tenant, user: User) -> bool:
    """Take a user out of a tenant. Their sessions there end with the membership (a receiver
    of its deletion, so the admin's inline deletes do the same). False if they were not a
    member."""
    deleted, _ = Membership.objects.filter(tenant=tenant, user=user).delete()
    return deleted > 0


def owner_ensure(*, email: str) -> tuple[User, bool]:
    """The user with this email, or a new one without a usable password (they are invited to set
    one). Returns (user, created)."""
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    user = User(username=email, email=email)
    user.set_unusable_password()
    user.save()
    return user, True


def user_is_member(*, user: User, tenant: Tenant) -> bool:
    return Membership.objects.filter(user_id=user.pk, tenant=tenant).exists()


def public_tenant_ensure(*, domain: str) -> Tenant:
    """The public schema's own Tenant row and domain (django-tenants routes through them)."""
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME,
        defaults={
            "name": "Platform",
            "slug": settings.PUBLIC_SCHEMA_NAME,
            "status": Tenant.Status.ACTIVE,
        },
    )
    Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
    return tenant
