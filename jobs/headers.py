"""The two message headers that carry a tenant, and how a tenant becomes them. One place for
their names: the sender writes them, the worker reads them, beat and the admin's retry pass
them on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypedDict

from tenants.models import Tenant

TENANT_ID: Final = "tenant_id"
TENANT_SCHEMA: Final = "tenant_schema"


class TenantRef(TypedDict):
    """A tenant as a message carries it. Both parts are checked at run time: the id alone would
    not notice a restore that swapped schemas; the schema alone, a name reused after deletion."""

    tenant_id: int | None
    tenant_schema: str


def tenant_ref(tenant: Tenant) -> TenantRef:
    """The headers that carry `tenant`."""
    return {TENANT_ID: tenant.pk, TENANT_SCHEMA: tenant.schema_name}


def ref_from(value: Tenant | Mapping[str, Any]) -> TenantRef:
    """A TenantRef from a Tenant, or from headers / a `tenant=` mapping that hold both keys."""
    if isinstance(value, Tenant):
        return tenant_ref(value)
    return {TENANT_ID: value[TENANT_ID], TENANT_SCHEMA: value[TENANT_SCHEMA]}


def slug_for(ref: Mapping[str, Any]) -> str:
    """The tenant's slug from its schema name (tenants.models.schema_name_for, reversed)."""
    if ref.get(TENANT_ID) is None:
        return ""
    return str(ref.get(TENANT_SCHEMA, "")).replace("_", "-")
