"""Backup jobs: one tenant each, on the backups queue (saas.celery.BACKUP_QUEUE), whose workers
are apart from the short and long ones: a long backup never holds up other jobs."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from backups.models import Backup
from backups.services import BackupFailed, backup_create, backup_verify
from jobs.api import tenant_task
from saas.celery import BACKUP_QUEUE
from tenants.context import connection_tenant
from tenants.models import Tenant


def _tenant() -> Tenant:
    tenant = connection_tenant()
    if not isinstance(tenant, Tenant):
        raise RuntimeError("backup jobs run in a tenant's schema")
    return tenant


@tenant_task(name="backups.tasks.backup_create_task", long_running=True, queue_name=BACKUP_QUEUE)
def backup_create_task(
    self: Any, kind: str = Backup.Kind.SCHEDULED.value, requested_by_id: int | None = None
) -> dict[str, Any]:
    """Back up the tenant now (progress: table by table). The job fails when the backup does,
    with its error; the Backup row records it either way."""
    requester = User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
    self.progress(0, None, "starting")
    backup = backup_create(
        _tenant(), kind=kind, requested_by=requester, progress=self.progress,
        job_task_id=str(self.request.id or ""),
    )  # fmt: skip
    if backup.state != Backup.State.SUCCEEDED:
        raise BackupFailed(f"backup {backup.pk} failed: {backup.error}")
    return {
        "backup_id": backup.pk, "artifact_id": backup.artifact_id, "size": backup.size,
        "duration_s": backup.duration_s, "method": backup.method, "encrypted": backup.encrypted,
    }  # fmt: skip


@tenant_task(name="backups.tasks.backup_verify_task", long_running=True, queue_name=BACKUP_QUEUE)
def backup_verify_task(self: Any, backup_id: int) -> dict[str, Any]:
    """Restore one of the tenant's backups into a scratch schema and compare it with its
    manifest. A backup of another tenant is refused (it would not be found)."""
    backup = Backup.objects.select_related("tenant", "artifact").get(pk=backup_id, tenant=_tenant())
    self.progress(0, None, "restoring into a scratch schema")
    backup = backup_verify(backup, progress=self.progress)
    if backup.verification != Backup.Verification.PASSED:
        raise BackupFailed(f"backup {backup.pk} failed verification: {backup.verify_error}")
    return {"backup_id": backup.pk, "verification": backup.verification,
            "verify_duration_s": backup.verify_duration_s}  # fmt: skip
