"""Which tenant a send is for, and the tenant headers a message carries (jobs/base.py sends)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import current_task
from django.conf import settings

from jobs.errors import TenantMissing, TenantUnknown
from jobs.headers import TENANT_ID, TENANT_SCHEMA, TenantRef, tenant_ref
from tenants.context import connection_tenant
from tenants.models import Tenant


def context_tenant_ref() -> TenantRef | None:
    """The tenant whose schema the sender's connection is in, if any."""
    tenant = connection_tenant()
    if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return None
    if isinstance(tenant, Tenant) and tenant.pk is not None:
        return tenant_ref(tenant)
    # schema_context() sets a stand-in with a schema name only.
    found = Tenant.objects.filter(schema_name=tenant.schema_name).only("pk", "schema_name").first()
    if found is None:
        raise TenantUnknown(f"the current schema {tenant.schema_name!r} is not a tenant")
    return tenant_ref(found)


def running_task_ref() -> TenantRef | None:
    """The tenant of the task being executed, for what the worker sends after a body returned
    (the next link of a chain). Not for a chord's body: its header tasks may belong to several
    tenants, and "whichever finished last" is no answer."""
    running = current_task
    request = getattr(running, "request", None) if running else None
    if request is None or getattr(request, TENANT_ID, None) is None:
        return None
    if getattr(request, "chord", None):
        raise TenantMissing(
            "a chord's body has no tenant of its own: send the chord from a tenant context, "
            "or set tenant= on the body"
        )
    return {TENANT_ID: getattr(request, TENANT_ID), TENANT_SCHEMA: getattr(request, TENANT_SCHEMA)}


def request_ref(request: Any) -> dict[str, Any]:
    """The tenant headers a task's request carries, whatever they are (checked on arrival)."""
    return {TENANT_ID: getattr(request, TENANT_ID, None),
            TENANT_SCHEMA: getattr(request, TENANT_SCHEMA, None)}  # fmt: skip


def signature_stamp(signature: Any, ref: Mapping[str, Any]) -> None:
    """Give a follow-up signature (chord body, link) a tenant unless it names one already."""
    options = getattr(signature, "options", None)
    if options is None or options.get("tenant") is not None:
        return
    headers = options.get("headers") or {}
    if headers.get(TENANT_ID) is None:
        options["headers"] = {**headers, **ref}  # a new dict, never shared
