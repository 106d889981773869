"""Sessions end when access ends: a member removed, a tenant suspended or archived, a password
changed or reset, a user deleted. Receivers rather than calls from tenants/ and accounts/,
which know nothing of sessions; each runs in the caller's transaction (or right after the
commit, for tenant status changes), so a rolled-back change ends nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import User
from accounts.signals import password_changed
from tenants.models import Membership, Tenant
from tenants.signals import tenant_status_changed
from usersessions.services import sessions_end, sessions_end_all, user_sessions_end


@receiver(password_changed, dispatch_uid="usersessions_password_changed")
def _password_changed(sender: Any, user: User, **kwargs: Any) -> None:
    # Every session of the user ends, the one making the change included: Django's
    # update_session_auth_hash() then re-issues that one under a new key (password change
    # views), so "all but the current one" holds where there is a current one.
    user_sessions_end(user_id=user.pk)


@receiver(post_delete, sender=Membership, dispatch_uid="usersessions_membership_removed")
def _membership_removed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    schema = (
        Tenant.objects.filter(pk=instance.tenant_id).values_list("schema_name", flat=True).first()
    )
    if schema is not None:
        sessions_end(schema_name=schema, user_ids=[instance.user_id])


@receiver(post_delete, sender=User, dispatch_uid="usersessions_user_deleted")
def _user_deleted(sender: Any, instance: User, **kwargs: Any) -> None:
    # Tenant sessions went with the memberships (deleted first, by cascade); staff ones here.
    sessions_end(schema_name=settings.PUBLIC_SCHEMA_NAME, user_ids=[instance.pk])


@receiver(tenant_status_changed, dispatch_uid="usersessions_tenant_locked")
def _tenant_status_changed(sender: Any, tenant: Tenant, new_status: str, **kwargs: Any) -> None:
    if new_status in (Tenant.Status.SUSPENDED, Tenant.Status.ARCHIVED):
        sessions_end_all(schema_name=tenant.schema_name)
