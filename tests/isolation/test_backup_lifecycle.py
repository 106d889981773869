"""Backups around one tenant — retention, the portal's "Back up now", the activity report's
backups, offboarding — never read, delete or change another tenant's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import User
from artifacts.models import Artifact
from backups.models import Backup, BackupPolicy
from backups.offboarding import tenant_archive, tenant_delete
from backups.retention import backups_retention_apply
from jobs.models import JobRun
from reports.data import Period
from reports.selectors import report_activity_select
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import artifact_make, portal_client, schema_shape

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def _stored(tenant: Tenant, made_at: dt.datetime) -> Backup:
    artifact = artifact_make(tenant, b"archive", kind="backup", title="Backup",
                             filename="backup.tar.zst")  # fmt: skip
    return Backup.objects.create(
        tenant=tenant, kind="scheduled", state="succeeded", artifact=artifact,
        schema_name=tenant.schema_name, started_at=made_at, size=artifact.size,
    )  # fmt: skip


@pytest.mark.django_db
def test_retention_of_acme_deletes_nothing_of_globex(acme: Tenant, globex: Tenant,
                                                     artifacts_root: Any) -> None:  # fmt: skip
    BackupPolicy.objects.create(tenant=acme, keep_daily=1, keep_weekly=0, keep_monthly=0)
    days = [NOW - dt.timedelta(days=d, hours=2) for d in range(4)]
    for when in days:
        _stored(acme, when)
        _stored(globex, when)
    deleted = backups_retention_apply(tenant=acme, now=NOW)
    assert len(deleted) == 3
    assert set(Backup.objects.filter(pk__in=deleted).values_list("tenant__slug", flat=True)) == {
        "acme"
    }
    assert not Artifact.objects.filter(tenant=globex, deleted_at__isnull=False).exists()


@pytest.mark.django_db
def test_acme_owner_cannot_ask_for_a_backup_on_globexs_domain(
    acme: Tenant, globex: Tenant, alice: User
) -> None:
    response = portal_client(globex, alice).post("/downloads/backup/")
    connection_tenant_set(None)
    assert response.status_code in (302, 403)
    assert not JobRun.objects.filter(task_name="backups.tasks.backup_create_task").exists()
    portal_client(acme, alice).post("/downloads/backup/")
    connection_tenant_set(None)
    [job] = JobRun.objects.filter(task_name="backups.tasks.backup_create_task")
    assert job.tenant_slug == "acme"


@pytest.mark.django_db
def test_acmes_activity_report_lists_no_backup_of_globex(acme: Tenant, globex: Tenant) -> None:
    when = dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC)
    for tenant, size in ((acme, 1_000), (globex, 9_999)):
        Backup.objects.create(tenant=tenant, kind="scheduled", state="succeeded",
                              schema_name=tenant.schema_name, started_at=when, size=size)  # fmt: skip
    with tenant_context(acme):
        data = report_activity_select(acme, Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8)))
    assert [b.size_bytes for b in data.backups] == [1_000]


def test_deleting_a_tenant_leaves_globex_byte_identical(leaving: Tenant) -> None:
    globex = Tenant.objects.get(slug="globex")
    before = schema_shape("globex", times=True)
    globex_files = list(Artifact.objects.filter(tenant=globex).values_list("pk", "deleted_at"))
    tenant_archive(tenant=leaving)
    leaving.refresh_from_db()
    tenant_delete(tenant=leaving)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'globex'")
        assert cursor.fetchone() is not None
    assert schema_shape("globex", times=True) == before
    assert list(Artifact.objects.filter(tenant=globex).values_list("pk", "deleted_at")) == (
        globex_files
    )
    assert Tenant.objects.get(pk=globex.pk).status == Tenant.Status.ACTIVE
