"""Restoring a backup into its tenant and as a new tenant, against the real database and the
real archive: what comes back, what is refused before anything changes, what a failure leaves
(nothing), and migration drift in both directions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import IntervalSchedule
from django_tenants.utils import schema_context

from backoffice.models import AuditEntry
from backups import age
from backups.archive import ArchiveError
from backups.models import Backup, Restore
from backups.restore import backup_restore, backup_restore_as_new
from backups.restore_checks import RestoreRefused
from backups.services import backup_create
from tenants.context import connection_tenant_set
from tenants.models import Domain, Membership, Tenant
from tests.helpers import (
    make_user,
    restores_clean,
    schema_fingerprint,
    schema_shape,
    scratch_schemas,
    session_keys,
    session_make,
)

pytestmark = pytest.mark.usefixtures("restore_db")


@pytest.fixture
def restore_db(live_db: None, artifacts_root: Path) -> Iterator[None]:
    yield
    restores_clean()


def _marker(schema: str, every: int) -> None:
    with schema_context(schema):
        IntervalSchedule.objects.create(every=every, period="days")


def _markers(schema: str) -> list[int]:
    with schema_context(schema):
        rows = IntervalSchedule.objects.filter(period="days").values_list("every", flat=True)
        return sorted(rows)


def _backup(tenant: Tenant) -> Backup:
    backup = backup_create(tenant, kind=Backup.Kind.MANUAL)
    connection_tenant_set(None)
    assert backup.state == Backup.State.SUCCEEDED, backup.error
    return backup


def test_a_restore_brings_the_backup_back_after_a_safety_backup_and_ends_sessions() -> None:
    acme = Tenant.objects.get(slug="acme")
    operator = make_user("olga-restore", is_staff=True)
    _marker("acme", 101)
    backup = _backup(acme)
    before = schema_shape("acme", times=True)
    _marker("acme", 102)  # written after the backup: the restore takes it away
    with schema_context("acme"):
        IntervalSchedule.objects.filter(every=101).delete()
    alice = make_user("live-alice")
    session_make("acme", alice)
    steps: list[tuple[int, int | None, str]] = []

    restore = backup_restore(backup, requested_by=operator, progress=lambda *a: steps.append(a))

    assert restore.state == Restore.State.SUCCEEDED and restore.error == ""
    assert _markers("acme") == [101]
    assert schema_shape("acme", times=True) == before  # every table, row and sequence as backed up
    assert session_keys("acme") == set()  # every session ended
    acme.refresh_from_db()
    assert acme.status == Tenant.Status.ACTIVE
    assert restore.previous_status == Tenant.Status.ACTIVE
    safety = restore.safety_backup
    assert safety is not None and safety.kind == Backup.Kind.SAFETY
    assert safety.state == Backup.State.SUCCEEDED  # holds 102, the state the restore replaced
    assert restore.migrated_forward == [] and restore.duration_s is not None
    assert steps[-1] == (5, 5, "done")
    assert scratch_schemas() == []
    audit = list(
        AuditEntry.objects.filter(object_id=str(restore.pk), action__startswith="restore.")
        .order_by("id")
        .values_list("action", "actor_username", "tenant_slug")
    )
    assert [a for a, _, _ in audit] == [
        "restore.start", "restore.safety_backup", "restore.loaded", "restore.swap",
        "restore.succeeded",
    ]  # fmt: skip
    assert {(actor, slug) for _, actor, slug in audit} == {("olga-restore", "acme")}


def test_an_older_backup_is_restored_then_migrated_forward() -> None:
    """A backup taken before the last migration of `schedules` (it adds two columns)."""
    acme = Tenant.objects.get(slug="acme")
    call_command(
        "migrate_schemas", "schedules", "0001", tenant=True, schema_name="acme",
        interactive=False, verbosity=0,
    )  # fmt: skip
    try:
        _marker("acme", 111)
        backup = _backup(acme)
        assert "schedules.0002_schedulestate_last_error" not in backup.manifest["migrations"]
    finally:
        call_command(
            "migrate_schemas", tenant=True, schema_name="acme", interactive=False, verbosity=0
        )
        connection_tenant_set(None)

    restore = backup_restore(backup)

    assert restore.state == Restore.State.SUCCEEDED, restore.error
    assert restore.migrated_forward == ["schedules.0002_schedulestate_last_error"]
    assert _markers("acme") == [111]
    # The restored schema has the code's shape: the same as globex's (rows aside).
    shape_acme, shape_globex = schema_shape("acme"), schema_shape("globex")
    for key in ("tables", "columns", "indexes", "constraints", "sequences"):
        assert shape_acme[key] == shape_globex[key], key


def test_a_backup_from_a_newer_migration_state_is_refused_before_anything_changes() -> None:
    acme = Tenant.objects.get(slug="acme")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO acme.django_migrations (app, name, applied) "
            "VALUES ('schedules', '0099_from_the_future', now())"
        )
    try:
        backup = _backup(acme)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM acme.django_migrations WHERE name = '0099_from_the_future'")
    before = schema_fingerprint("acme")
    backups = Backup.objects.count()

    with pytest.raises(RestoreRefused, match=r"newer version.*schedules\.0099_from_the_future"):
        backup_restore(backup)

    assert schema_fingerprint("acme") == before
    assert Backup.objects.count() == backups  # not even a safety backup
    assert not Restore.objects.exists()
    assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.ACTIVE


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_corrupted_archive_is_refused_and_the_tenant_is_left_as_it_was(
    artifacts_root: Path, settings: Any, encrypted: bool
) -> None:
    if encrypted:
        settings.BACKUP_PLATFORM_KEY = age.identity_generate()
    acme = Tenant.objects.get(slug="acme")
    _marker("acme", 121)
    backup = _backup(acme)
    assert backup.artifact is not None and backup.encrypted == encrypted
    stored = artifacts_root / backup.artifact.storage_key
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    _marker("acme", 122)
    before = schema_fingerprint("acme")

    with pytest.raises(ArchiveError) as refused:
        backup_restore(backup)

    restore = Restore.objects.get(backup=backup)
    assert restore.state == Restore.State.FAILED
    assert restore.error and str(refused.value) in restore.error
    assert schema_fingerprint("acme") == before  # the live schema itself, untouched
    assert _markers("acme") == [121, 122]
    assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.ACTIVE
    assert scratch_schemas() == []
    assert AuditEntry.objects.filter(action="restore.failed", object_id=str(restore.pk)).exists()


def test_a_suspended_tenant_is_restored_and_stays_suspended() -> None:
    acme = Tenant.objects.get(slug="acme")
    backup = _backup(acme)
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.SUSPENDED)
    restore = backup_restore(backup)
    assert restore.previous_status == Tenant.Status.SUSPENDED
    assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.SUSPENDED


def test_what_cannot_be_restored_is_refused_with_words() -> None:
    acme = Tenant.objects.get(slug="acme")
    failed = Backup.objects.create(
        tenant=acme, kind=Backup.Kind.MANUAL, state=Backup.State.FAILED, schema_name="acme"
    )
    with pytest.raises(RestoreRefused, match="only a backup that succeeded"):
        backup_restore(failed)
    backup = _backup(acme)
    # Another process restoring acme holds acme's restore lock: this one does not start.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(7340014, %s)", [acme.pk])
        try:
            with pytest.raises(RestoreRefused, match="Another restore of acme is running"):
                backup_restore(backup)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(7340014, %s)", [acme.pk])
    Tenant.objects.filter(pk=acme.pk).update(status=Tenant.Status.ARCHIVED)
    with pytest.raises(RestoreRefused, match="acme is archived"):
        backup_restore(backup)
    with pytest.raises(RestoreRefused, match="exists already"):
        backup_restore_as_new(backup, slug="globex")
    with pytest.raises(RestoreRefused, match="Use 3-40 lowercase"):
        backup_restore_as_new(backup, slug="Not A Slug")
    with pytest.raises(RestoreRefused, match="belongs to another tenant"):
        backup_restore_as_new(backup, slug="acme-two", domain="globex.localhost")
    with pytest.raises(RestoreRefused, match="is not a domain name"):
        backup_restore_as_new(backup, slug="acme-two", domain="not a domain")
    assert not Restore.objects.exists()


def test_restore_as_new_makes_a_tenant_with_the_backups_data_beside_the_live_one() -> None:
    acme = Tenant.objects.get(slug="acme")
    Membership.objects.create(user=make_user("live-owner"), tenant=acme, role="owner")
    _marker("acme", 131)
    session_make("acme", None)
    backup = _backup(acme)
    acme_before = schema_fingerprint("acme")

    restore = backup_restore_as_new(backup, slug="acme-staging", domain="staging.example.test")

    assert restore.state == Restore.State.SUCCEEDED, restore.error
    copy = Tenant.objects.get(slug="acme-staging")
    assert restore.target == copy and restore.as_new and restore.safety_backup is None
    assert (copy.schema_name, copy.status, copy.timezone) == (
        "acme_staging",
        "active",
        acme.timezone,
    )
    assert copy.name.startswith("Acme Corp (restored ")
    assert set(Domain.objects.filter(tenant=copy).values_list("domain", "is_primary")) == {
        ("acme-staging.localhost", True),
        ("staging.example.test", False),
    }
    assert not Membership.objects.filter(tenant=copy).exists()  # members are invited anew
    assert _markers("acme_staging") == [131]
    assert session_keys("acme_staging") == set()
    # The copy's tables and rows are acme's (sessions aside), under its own name.
    shape_copy, shape_acme = schema_shape("acme_staging"), schema_shape("acme")
    for key in shape_acme.keys() - {"rows:usersessions_session"}:
        assert shape_copy[key] == shape_acme[key], key
    assert schema_fingerprint("acme") == acme_before  # the live one untouched
    assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.ACTIVE
    assert scratch_schemas() == []
    assert AuditEntry.objects.filter(action="restore.as_new", tenant=copy).exists()


def test_restore_as_new_that_fails_leaves_no_tenant_and_no_schema(artifacts_root: Path) -> None:
    backup = _backup(Tenant.objects.get(slug="acme"))
    assert backup.artifact is not None
    (artifacts_root / backup.artifact.storage_key).write_bytes(b"not an archive")
    with pytest.raises(ArchiveError):
        backup_restore_as_new(backup, slug="acme-broken")
    assert not Tenant.objects.filter(slug="acme-broken").exists()
    assert Restore.objects.get(backup=backup).state == Restore.State.FAILED
    assert scratch_schemas() == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'acme_broken'")
        assert cursor.fetchone() is None
