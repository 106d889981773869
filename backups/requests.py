"""Sending backup jobs from requests: a backup now (the admin's Operators, the portal's owners
at most BACKUP_REQUESTS_PER_DAY a day per tenant), a restore, a restore as a new tenant. The
jobs themselves are backups.tasks."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from backups.models import Backup
from backups.tasks import backup_create_task, backup_restore_as_new_task, backup_restore_task
from jobs.api import task_enqueue
from saas.ratelimit import budget_admit
from tenants.models import Tenant


def backup_request(*, tenant: Tenant, requested_by: User | None) -> str:
    """Send an on-demand backup job for `tenant` (its JobRun at once, the message on commit);
    returns the task id."""
    return task_enqueue(
        backup_create_task, tenant=tenant,
        kwargs={"kind": Backup.Kind.MANUAL.value, "requested_by_id": _user_id(requested_by)},
    )  # fmt: skip


def backup_request_admit(*, tenant: Tenant) -> bool:
    """Count one portal request against the tenant's daily budget; False once it is spent."""
    return budget_admit(
        f"backup-requests:{tenant.pk}", limit=settings.BACKUP_REQUESTS_PER_DAY, window_s=86400
    )


def _user_id(user: User | None) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


def backup_restore_enqueue(backup: Backup, *, requested_by: User | None) -> str:
    """Send the restore job for the backup's tenant (check it first:
    backups.restore_checks.restore_into_check); returns the task id."""
    return task_enqueue(
        backup_restore_task, tenant=backup.tenant,
        kwargs={"backup_id": backup.pk, "requested_by_id": _user_id(requested_by)},
    )  # fmt: skip


def backup_restore_as_new_enqueue(
    backup: Backup, *, slug: str, name: str = "", domain: str = "", requested_by: User | None
) -> str:
    """Send the restore-as-new job, a platform job: the tenant does not exist yet (check the
    slug first: backups.restore_checks.restore_as_new_check); returns the task id."""
    return task_enqueue(
        backup_restore_as_new_task, tenant=None,
        kwargs={"backup_id": backup.pk, "slug": slug, "name": name, "domain": domain,
                "requested_by_id": _user_id(requested_by)},
    )  # fmt: skip
