"""Backup jobs. Thin: load by id, call one service, report progress.

Restores run on the backups queue (settings.BACKUP_QUEUE) and are never retried by themselves:
a restore is an operator's decision, made again by an operator. A restore job delivered twice
(its worker killed) finds its Restore row and returns it (backups.restore)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import User
from backups.models import Backup, Restore
from backups.restore import backup_restore, backup_restore_as_new, restores_recover
from jobs.api import platform_task, task_enqueue, tenant_task
from tenants.context import connection_tenant
from tenants.models import Tenant


def backup_queue() -> str:
    return str(getattr(settings, "BACKUP_QUEUE", "backups"))


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
    long_running=True,
    runs_while_restoring=True,  # it is the restore: every other job of the tenant waits for it
    autoretry_for=(),
    max_retries=0,
)
def backup_restore_task(
    self: Any, backup_id: int, requested_by_id: int | None = None
) -> dict[str, Any]:
    """Restore one of the tenant's backups into the tenant (the message's tenant: a backup of
    another tenant is refused)."""
    tenant = connection_tenant()
    if not isinstance(tenant, Tenant):
        raise RuntimeError("backup_restore_task runs for a tenant")
    backup = Backup.objects.select_related("tenant", "artifact").get(pk=backup_id)
    restore = backup_restore(
        backup, tenant=tenant, requested_by=_user(requested_by_id), progress=self.progress,
        job_task_id=str(self.request.id or ""),
    )  # fmt: skip
    if restore.state == Restore.State.FAILED:  # an earlier delivery of this job failed
        raise RuntimeError(restore.error)
    return _restore_summary(restore)


@platform_task(
    name="backups.tasks.backup_restore_as_new_task",
    long_running=True,
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
    """Put back what restores whose process died left behind (beat, every minute; untracked
    like the job reaper: a JobRun a minute would bury the history, and each recovery is in
    the audit log)."""
    return {"recovered": restores_recover()}


def backup_restore_enqueue(backup: Backup, *, requested_by: User | None) -> str:
    """Send the restore job for the backup's tenant; returns the task id (the JobRun's)."""
    return task_enqueue(
        backup_restore_task, tenant=backup.tenant, queue=backup_queue(),
        kwargs={"backup_id": backup.pk, "requested_by_id": _user_id(requested_by)},
    )  # fmt: skip


def backup_restore_as_new_enqueue(
    backup: Backup, *, slug: str, name: str = "", domain: str = "", requested_by: User | None
) -> str:
    """Send the restore-as-new job (check the slug first: backups.restore.restore_as_new_check)."""
    return task_enqueue(
        backup_restore_as_new_task, tenant=None, queue=backup_queue(),
        kwargs={
            "backup_id": backup.pk, "slug": slug, "name": name, "domain": domain,
            "requested_by_id": _user_id(requested_by),
        },
    )  # fmt: skip


def _user(user_id: int | None) -> User | None:
    return User.objects.filter(pk=user_id).first() if user_id else None


def _user_id(user: User | None) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None
