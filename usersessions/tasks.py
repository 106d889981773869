"""Session cleanup jobs: one per tenant (its default schedule, or "run cleanup now"), and one
for the public schema's staff sessions (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from jobs.api import JobSkipped, platform_task, tenant_task
from tenants.context import connection_schema
from usersessions.services import SessionsCleanupBusy, sessions_cleanup


def _cleanup(task: Any, schema_name: str) -> dict[str, Any]:
    try:
        return sessions_cleanup(schema_name=schema_name, progress=task.progress)
    except SessionsCleanupBusy as exc:
        raise JobSkipped(str(exc), result={"schema": schema_name, "skipped": str(exc)}) from exc


@tenant_task(name="usersessions.tasks.sessions_cleanup_task", long_running=True)
def sessions_cleanup_task(self: Any) -> dict[str, Any]:
    """Delete the tenant's expired sessions and those past its maximum age."""
    return _cleanup(self, connection_schema())


@platform_task(name="usersessions.tasks.sessions_cleanup_platform_task", long_running=True)
def sessions_cleanup_platform_task(self: Any) -> dict[str, Any]:
    """Delete the public schema's (staff) expired sessions and those past
    STAFF_SESSION_MAX_AGE_DAYS."""
    return _cleanup(self, settings.PUBLIC_SCHEMA_NAME)
