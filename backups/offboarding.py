"""Offboarding: archiving and deleting a tenant, each after a final backup, and the end of a
deleted tenant's backups.

- Archive: a final backup first; the tenant is archived only if it succeeded.
- Delete (Operators, typed confirmation, only from archived): a final backup, then the schema is
  dropped, its domains removed (the address answers nothing), its other files (reports,
  exports) deleted; the tenant row stays, status deleted, with its backups and their key.
- BACKUP_DELETED_TENANT_KEEP_DAYS after the deletion, `deleted_tenants_shred` destroys the
  tenant's backup key (crypto-shredding: encrypted backups become unreadable) and deletes its
  backups' bytes.
Every step is written to the staff audit log.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from artifacts.models import Artifact
from artifacts.services import artifact_bytes_delete
from backoffice.services import audit_record
from backups.models import Backup, TenantKey
from backups.services import backup_create
from jobs.api import Progress
from tenants.models import Domain, Tenant
from tenants.provisioning import schema_drop
from tenants.services import tenant_status_set

logger = logging.getLogger(__name__)


class OffboardingRefused(ValueError):
    """The step cannot happen (wrong state, or the final backup failed); nothing changed."""


def _final_backup(tenant: Tenant, *, by: User | None, progress: Progress | None) -> Backup:
    backup = backup_create(tenant, kind=Backup.Kind.FINAL, requested_by=by, progress=progress)
    if backup.state != Backup.State.SUCCEEDED:
        raise OffboardingRefused(
            f"The final backup of {tenant.slug} failed ({backup.error}); nothing else was done."
        )
    audit_record(actor=by, action="tenant.final_backup", tenant=tenant, obj=backup,
                 detail={"size": backup.size})  # fmt: skip
    return backup


def tenant_archive(
    *, tenant: Tenant, by: User | None = None, progress: Progress | None = None
) -> Backup:
    """Take a final backup, then archive. Returns the final backup."""
    if tenant.status not in (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED):
        raise OffboardingRefused(f"{tenant.slug} is {tenant.status}: only an active or "
                                 "suspended tenant is archived.")  # fmt: skip
    backup = _final_backup(tenant, by=by, progress=progress)
    tenant_status_set(tenant=tenant, status=Tenant.Status.ARCHIVED)
    audit_record(actor=by, action="tenant.archived", tenant=tenant, obj=tenant,
                 detail={"final_backup": backup.pk})  # fmt: skip
    return backup


def tenant_delete(
    *, tenant: Tenant, by: User | None = None, progress: Progress | None = None
) -> Backup:
    """Take a final backup, then drop the tenant's schema and domains. Returns the final
    backup, kept for BACKUP_DELETED_TENANT_KEEP_DAYS."""
    if tenant.status != Tenant.Status.ARCHIVED:
        raise OffboardingRefused(
            f"{tenant.slug} is {tenant.status}: only an archived tenant is deleted."
        )
    backup = _final_backup(tenant, by=by, progress=progress)
    # The status first (its receivers end sessions and drop beat entries), so that nothing is
    # sent to the schema while it goes.
    tenant_status_set(tenant=tenant, status=Tenant.Status.DELETED)
    with transaction.atomic():
        domains = list(Domain.objects.filter(tenant=tenant).values_list("domain", flat=True))
        Domain.objects.filter(tenant=tenant).delete()
        schema_drop(tenant.schema_name)
    audit_record(actor=by, action="tenant.deleted", tenant=tenant, obj=tenant,
                 detail={"schema": tenant.schema_name, "domains": domains,
                         "final_backup": backup.pk,
                         "backups_kept_days": settings.BACKUP_DELETED_TENANT_KEEP_DAYS})  # fmt: skip
    others = Artifact.objects.filter(tenant=tenant, deleted_at__isnull=True).exclude(
        kind=Artifact.Kind.BACKUP
    )
    for artifact in others:
        artifact_bytes_delete(artifact=artifact, reason="tenant deleted")
    return backup


def deleted_tenants_shred(*, now: dt.datetime | None = None) -> list[str]:
    """Destroy the backup key and delete the backups of every tenant deleted more than
    BACKUP_DELETED_TENANT_KEEP_DAYS ago. Returns their slugs."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.BACKUP_DELETED_TENANT_KEEP_DAYS)
    done = []
    due = Tenant.objects.filter(status=Tenant.Status.DELETED, status_changed_at__lt=cutoff)
    for tenant in due:
        destroyed = TenantKey.objects.filter(tenant=tenant, destroyed_at__isnull=True).update(
            wrapped_identity="", destroyed_at=now
        )
        stored = Artifact.objects.filter(
            tenant=tenant, kind=Artifact.Kind.BACKUP, deleted_at__isnull=True
        )
        deleted = sum(
            artifact_bytes_delete(artifact=artifact, reason="tenant deleted: backups ended")
            for artifact in stored
        )
        if destroyed or deleted:
            audit_record(actor=None, action="tenant.backups_shredded", tenant=tenant, obj=tenant,
                         detail={"key_destroyed": bool(destroyed), "backups_deleted": deleted})  # fmt: skip
            done.append(tenant.slug)
    return done
