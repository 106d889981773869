"""Asking for a backup now: from the admin (Operators) and the portal (owners, at most
BACKUP_REQUESTS_PER_DAY a day per tenant). The job itself is backups.tasks."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from backups.models import Backup
from backups.tasks import backup_create_task
from jobs.api import task_enqueue
from saas.ratelimit import budget_admit
from tenants.models import Tenant


def backup_request(*, tenant: Tenant, requested_by: User | None) -> str:
    """Send an on-demand backup job for `tenant` (its JobRun at once, the message on commit);
    returns the task id."""
    return task_enqueue(
        backup_create_task, tenant=tenant,
        kwargs={"kind": Backup.Kind.MANUAL.value,
                "requested_by_id": requested_by.pk if requested_by is not None else None},
    )  # fmt: skip


def backup_request_admit(*, tenant: Tenant) -> bool:
    """Count one portal request against the tenant's daily budget; False once it is spent."""
    return budget_admit(
        f"backup-requests:{tenant.pk}", limit=settings.BACKUP_REQUESTS_PER_DAY, window_s=86400
    )
