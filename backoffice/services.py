"""The staff audit trail. Every admin write and every entry into a tenant's admin lands here."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from accounts.models import User
from backoffice.models import AuditEntry
from saas.http import client_ip
from tenants.models import Tenant


def audit_record(
    *,
    actor: User | None,
    action: str,
    tenant: Tenant | None = None,
    obj: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Write one audit entry in the public schema, whatever schema the caller is in.

    The explicit `using`/table is public by construction: AuditEntry is a shared app's model and
    tenant schemas have no table of that name, so the search path resolves it to public.
    """
    if tenant is not None and tenant.is_public:
        tenant = None
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=actor.get_username() if actor is not None and actor.is_authenticated else "",
        tenant=tenant,
        tenant_slug=tenant.slug if tenant else "",
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        detail=detail or {},
        ip_address=ip_address,
    )


def audit_record_request(
    request: HttpRequest,
    *,
    action: str,
    tenant: Tenant | None = None,
    obj: models.Model | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """audit_record for a staff request: the actor, the IP and (in a tenant's admin) the tenant."""
    return audit_record(
        actor=request.user,  # type: ignore[arg-type]
        action=action,
        tenant=tenant if tenant is not None else getattr(request, "admin_tenant", None),
        obj=obj,
        detail=detail,
        ip_address=client_ip(request) or None,
    )
