"""Offboarding: archive and delete each take a final backup first; a deleted tenant's backups
outlive its schema for BACKUP_DELETED_TENANT_KEEP_DAYS, then its key and backups are destroyed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from backoffice.models import AuditEntry
from backups.models import Backup, TenantKey
from backups.offboarding import (
    OffboardingRefused,
    deleted_tenants_shred,
    tenant_archive,
    tenant_delete,
)
from backups.retention import backups_retention_apply
from tenants.models import Domain, Tenant
from tests.helpers import artifact_make


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_archiving_takes_a_final_backup_first(leaving: Tenant) -> None:
    backup = tenant_archive(tenant=leaving)
    leaving.refresh_from_db()
    assert leaving.status == Tenant.Status.ARCHIVED
    assert backup.kind == Backup.Kind.FINAL and backup.state == Backup.State.SUCCEEDED
    actions = list(AuditEntry.objects.filter(tenant_slug="leaving").order_by("id")
                   .values_list("action", flat=True))  # fmt: skip
    assert actions.index("tenant.final_backup") < actions.index("tenant.archived")


def test_a_failed_final_backup_archives_nothing(leaving: Tenant) -> None:
    Tenant.objects.filter(pk=leaving.pk).update(storage_quota_mb=1)
    leaving.refresh_from_db()
    artifact_make(leaving, b"x" * (1024 * 1024))  # the quota is full: the backup cannot be kept
    with pytest.raises(OffboardingRefused, match="final backup of leaving failed"):
        tenant_archive(tenant=leaving)
    leaving.refresh_from_db()
    assert leaving.status == Tenant.Status.ACTIVE
    assert Backup.objects.get(tenant=leaving).state == Backup.State.FAILED


def test_delete_only_from_archived_then_drops_the_schema_and_keeps_the_backups(
    leaving: Tenant, settings: Any
) -> None:
    report = artifact_make(leaving, b"%PDF-", kind="report")
    with pytest.raises(OffboardingRefused, match="only an archived tenant is deleted"):
        tenant_delete(tenant=leaving)
    assert _schema_exists(leaving.schema_name)
    tenant_archive(tenant=leaving)
    leaving.refresh_from_db()
    final = tenant_delete(tenant=leaving)
    leaving.refresh_from_db()
    assert leaving.status == Tenant.Status.DELETED
    assert not _schema_exists(leaving.schema_name)
    assert not Domain.objects.filter(tenant=leaving).exists()
    report.refresh_from_db()
    assert report.deleted_at is not None and report.deleted_reason == "tenant deleted"
    kept = Backup.objects.filter(tenant=leaving, artifact__deleted_at__isnull=True)
    assert set(kept.values_list("kind", flat=True)) == {"final"} and kept.count() == 2
    assert final.pk in set(kept.values_list("pk", flat=True))

    # Inside the keeping period nothing more goes; after it, the key and the backups do.
    assert deleted_tenants_shred() == []
    later = timezone.now() + dt.timedelta(days=settings.BACKUP_DELETED_TENANT_KEEP_DAYS + 1)
    assert deleted_tenants_shred(now=later) == ["leaving"]
    assert not Backup.objects.filter(tenant=leaving, artifact__deleted_at__isnull=True).exists()
    key = TenantKey.objects.filter(tenant=leaving).first()
    assert key is None or (key.is_destroyed and key.wrapped_identity == "")
    assert AuditEntry.objects.filter(
        action="tenant.backups_shredded", tenant_slug="leaving"
    ).exists()
    assert backups_retention_apply(tenant=leaving) == []
