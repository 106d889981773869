"""Which tenant the database connection is in, typed.

django-tenants sets `connection.tenant` (a Tenant, or a stand-in with only `schema_name` inside
`schema_context()`) and `connection.schema_name`; the backend class has no annotations for them.
Read them here instead of through `getattr` or `attr-defined` ignores.
"""

from __future__ import annotations

from typing import Protocol, cast

from django.conf import settings
from django.db import connection


class SchemaHolder(Protocol):
    """A Tenant, or django-tenants' stand-in (FakeTenant) with a schema name only."""

    schema_name: str


def connection_tenant() -> SchemaHolder | None:
    """The tenant (or stand-in) the connection is in; None before anything set one."""
    return cast(SchemaHolder | None, getattr(connection, "tenant", None))


def connection_schema() -> str:
    """The schema the connection is in (public when none was set)."""
    return str(getattr(connection, "schema_name", None) or settings.PUBLIC_SCHEMA_NAME)


def connection_in_public() -> bool:
    return connection_schema() == settings.PUBLIC_SCHEMA_NAME


def connection_tenant_set(tenant: SchemaHolder | None) -> None:
    """Switch the connection to `tenant` (None: public). A schema switch is one `SET
    search_path`, sent with the next query (TENANT_LIMIT_SET_CALLS)."""
    if tenant is None:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    else:
        connection.set_tenant(tenant)  # type: ignore[attr-defined]
