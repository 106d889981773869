"""Staff jobs on one tenant, started from the tenant admin (and the nightly usage count)."""

from __future__ import annotations

from typing import Any, cast

from django.db import connection

from jobs.api import tenant_task
from tenants.context import connection_schema, connection_tenant
from tenants.defaults import TENANT_DEFAULTS
from tenants.models import Tenant


# Names predate the move from tenants/: stored in schedule rows and job history.
@tenant_task(name="tenants.tasks.tenant_defaults_apply_task")
def tenant_defaults_apply_task(self: Any) -> dict[str, Any]:
    """Create the tenant's missing default rows again; existing rows (staff edits) are kept."""
    tenant = cast(Tenant, connection_tenant())  # a tenant task runs in a real tenant
    for done, make in enumerate(TENANT_DEFAULTS, start=1):
        make(tenant)
        self.progress(done, len(TENANT_DEFAULTS), make.__name__)
    return {"defaults": len(TENANT_DEFAULTS), "schema": connection_schema()}


@tenant_task(name="tenants.tasks.tenant_tables_count_task", long_running=True)
def tenant_tables_count_task(self: Any) -> dict[str, int]:
    """Count the rows of every table in the tenant's schema, reporting progress per table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            [connection_schema()],
        )
        tables = [row[0] for row in cursor.fetchall()]
        counts: dict[str, int] = {}
        for done, table in enumerate(tables, start=1):
            cursor.execute(f'SELECT count(*) FROM "{connection_schema()}"."{table}"')
            counts[table] = cursor.fetchone()[0]
            self.progress(done, len(tables), table)
    return counts
