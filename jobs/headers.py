"""The two message headers that carry a tenant, and how a tenant becomes them. One place for
their names: the sender writes them, the worker reads them, beat and the admin's retry pass
them on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypedDict

from tenants.models import Tenant

TENANT_ID: Final = "tenant_id"
TENANT_SCHEMA: Final = "tenant_schema"

# Celery's own message headers (protocol 2). A caller's headers may never set one: a "task"
# header once made the worker run another task than the one sent and recorded.
CELERY_HEADERS = frozenset(
    {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
        "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
        "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    }
)  # fmt: skip


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
