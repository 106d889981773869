"""Backup jobs, on the backups queue (saas.celery.BACKUP_QUEUE), whose workers are apart from the
short and long ones: a long backup never holds up other jobs.

Restores are never retried by themselves: a restore is an operator's decision, made again by
an operator. A restore job delivered twice (its worker killed) finds its Restore row and
returns it (backups.restore)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from backups.models import Backup, Restore
from backups.offboarding import deleted_tenants_shred, tenant_archive, tenant_delete
from backups.restore import backup_restore, backup_restore_as_new
from backups.restore_recovery import restores_recover
from backups.retention import backups_retention_apply
from backups.services import (
    BackupFailed,
    backup_create,
    backup_verify,
    backups_interrupted_close,
)
from jobs.api import platform_task, tenant_task
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
    return _verify(self, backup)


def _verify(task: Any, backup: Backup) -> dict[str, Any]:
    task.progress(0, None, "restoring into a scratch schema")
    backup = backup_verify(backup, progress=task.progress)
    if backup.verification != Backup.Verification.PASSED:
        raise BackupFailed(f"backup {backup.pk} failed verification: {backup.verify_error}")
    return {"backup_id": backup.pk, "verification": backup.verification,
            "verify_duration_s": backup.verify_duration_s}  # fmt: skip


def _restore_summary(restore: Restore) -> dict[str, Any]:
    return {
        "restore": restore.pk,
        "state": restore.state,
        "backup": restore.backup_id,
        "tenant": restore.target.slug,
        "as_new": restore.as_new,
        "safety_backup": restore.safety_backup_id,
        "migrated_forward": restore.migrated_forward,
        "duration_s": restore.duration_s,
        "error": restore.error,
    }


@tenant_task(
    name="backups.tasks.backup_restore_task",
    schedulable=False,
    long_running=True,
    queue_name=BACKUP_QUEUE,
    runs_while_restoring=True,  # it is the restore: every other job of the tenant waits for it
    autoretry_for=(),
    max_retries=0,
)
def backup_restore_task(
    self: Any, backup_id: int, requested_by_id: int | None = None
) -> dict[str, Any]:
    """Restore one of the tenant's backups into the tenant (the message's tenant: a backup of
    another tenant is refused)."""
    backup = Backup.objects.select_related("tenant", "artifact").get(pk=backup_id)
    restore = backup_restore(
        backup, tenant=_tenant(), requested_by=_user(requested_by_id), progress=self.progress,
        job_task_id=str(self.request.id or ""),
    )  # fmt: skip
    if restore.state == Restore.State.FAILED:  # an earlier delivery of this job failed
        raise RuntimeError(restore.error)
    return _restore_summary(restore)


@platform_task(
    name="backups.tasks.backup_restore_as_new_task",
    schedulable=False,
    long_running=True,
    queue_name=BACKUP_QUEUE,
    autoretry_for=(),
    max_retries=0,
)
def backup_restore_as_new_task(
    self: Any,
    backup_id: int,
    slug: str,
    name: str = "",
    domain: str = "",
    requested_by_id: int | None = None,
) -> dict[str, Any]:
    """Make a new tenant `slug` from a backup (any tenant's: a platform job, the new tenant
    does not exist yet)."""
    backup = Backup.objects.select_related("tenant", "artifact").get(pk=backup_id)
    restore = backup_restore_as_new(
        backup, slug=slug, name=name or None, domain=domain or None,
        requested_by=_user(requested_by_id), progress=self.progress,
        job_task_id=str(self.request.id or ""),
    )  # fmt: skip
    if restore.state == Restore.State.FAILED:
        raise RuntimeError(restore.error)
    return _restore_summary(restore)


@platform_task(name="backups.tasks.restores_recover_task", track=False)
def restores_recover_task(self: Any) -> dict[str, Any]:
    """Put back what restores whose process died left behind, and close backups whose job died
    (beat, every minute; untracked like the job reaper: a JobRun a minute would bury the
    history, and each recovery is in the audit log)."""
    return {"recovered": restores_recover(), "backups_closed": backups_interrupted_close()}


def _user(user_id: int | None) -> User | None:
    return User.objects.filter(pk=user_id).first() if user_id else None


# --- offboarding, retention and the scheduled verify ---------------------------------------
@platform_task(name="backups.tasks.tenant_archive_task", schedulable=False, long_running=True,
               queue_name=BACKUP_QUEUE, autoretry_for=(), max_retries=0)  # fmt: skip
def tenant_archive_task(
    self: Any, tenant_id: int, requested_by_id: int | None = None
) -> dict[str, Any]:
    """A final backup, then the tenant is archived (backups.offboarding)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    backup = tenant_archive(tenant=tenant, by=_user(requested_by_id), progress=self.progress)
    return {"tenant": tenant.slug, "status": "archived", "final_backup": backup.pk}


@platform_task(name="backups.tasks.tenant_delete_task", schedulable=False, long_running=True,
               queue_name=BACKUP_QUEUE, autoretry_for=(), max_retries=0)  # fmt: skip
def tenant_delete_task(
    self: Any, tenant_id: int, requested_by_id: int | None = None
) -> dict[str, Any]:
    """A final backup, then the tenant's schema and domains go; its backups stay for
    BACKUP_DELETED_TENANT_KEEP_DAYS (backups.offboarding)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    backup = tenant_delete(tenant=tenant, by=_user(requested_by_id), progress=self.progress)
    return {"tenant": tenant.slug, "status": "deleted", "final_backup": backup.pk}


@platform_task(name="backups.tasks.backups_upkeep_task", long_running=True)
def backups_upkeep_task(self: Any) -> dict[str, Any]:
    """Daily: the retention rule for every tenant with backups, then the end of deleted
    tenants' backups past their keeping period."""
    tenants = list(Tenant.objects.filter(
        pk__in=Backup.objects.values("tenant_id").distinct()
    ).order_by("pk"))  # fmt: skip
    deleted = 0
    for i, tenant in enumerate(tenants):
        self.progress(i, len(tenants), tenant.slug)
        deleted += len(backups_retention_apply(tenant=tenant))
    return {"tenants": len(tenants), "backups_deleted": deleted,
            "tenants_shredded": deleted_tenants_shred()}  # fmt: skip


@tenant_task(name="backups.tasks.backup_verify_latest_task", long_running=True,
             queue_name=BACKUP_QUEUE)  # fmt: skip
def backup_verify_latest_task(self: Any) -> dict[str, Any]:
    """The weekly drill: verify the tenant's newest stored backup (restore it into a scratch
    schema and compare). A tenant without one fails, so the dashboard shows it."""
    backup = (
        Backup.objects.filter(tenant=_tenant(), state=Backup.State.SUCCEEDED,
                              artifact__deleted_at__isnull=True)
        .select_related("tenant", "artifact").order_by("-started_at").first()
    )  # fmt: skip
    if backup is None:
        raise BackupFailed("this tenant has no stored backup to verify")
    return _verify(self, backup)
