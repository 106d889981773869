"""Backup, verify, encryption: stored as an artifact, verified by a real restore, encrypted
to the tenant's key (readable with the real `age`), and never written when the keys are wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from artifacts.models import Artifact
from backups import age
from backups.keys import tenant_key_destroy
from backups.models import Backup, TenantKey
from backups.services import backup_create, backup_open, backup_verify
from scripts.suite_tools import tool_path
from tenants.models import Tenant
from tests.helpers import artifact_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("artifacts_root")]


def _stored(backup: Backup, root: Path) -> Path:
    assert backup.artifact is not None
    return root / backup.artifact.storage_key


def _scratch_schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bkv\\_%%'")
        return [row[0] for row in cursor.fetchall()]


def test_a_backup_is_stored_for_owners_and_verified_by_a_restore(acme: Tenant) -> None:
    progress: list[tuple[int, int | None, str]] = []
    backup = backup_create(acme, kind="manual", progress=lambda *a: progress.append(a))
    assert backup.state == Backup.State.SUCCEEDED, backup.error
    assert (backup.method, backup.encrypted) == ("template", False)
    artifact = backup.artifact
    assert artifact is not None and artifact.kind == Artifact.Kind.BACKUP
    assert artifact.audience == Artifact.Audience.OWNERS and artifact.filename.endswith(".tar.zst")
    assert backup.size == artifact.size and backup.manifest["archive"]["bytes"] == artifact.size
    assert backup.manifest["tenant"]["slug"] == "acme" and backup.duration_s is not None
    assert progress and progress[-1][2] == "indexes and sequences"

    backup = backup_verify(backup)
    assert backup.verification == Backup.Verification.PASSED, backup.verify_error
    assert backup.verified_at is not None and backup.verify_duration_s is not None
    assert _scratch_schemas() == []  # the scratch copy is gone


def test_a_corrupted_archive_is_refused_by_verify(acme: Tenant, artifacts_root: Path) -> None:
    backup = backup_create(acme, kind="manual")
    path = _stored(backup, artifacts_root)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    backup = backup_verify(backup)
    assert backup.verification == Backup.Verification.FAILED
    assert backup.verify_error == "the stored archive differs from its checksum: it was damaged"
    assert _scratch_schemas() == []
    path.write_bytes(bytes(data[:-10]))
    assert backup_verify(backup).verify_error == (
        "the stored archive is missing or not of its recorded size"
    )


def _age_decrypt(identity: str, data: bytes, tmp_path: Path) -> bytes:
    key = tmp_path / "key.txt"
    key.write_text(identity + "\n")
    done = subprocess.run([tool_path("age"), "-d", "-i", str(key)], input=data, capture_output=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_encrypted_backups_are_readable_with_age_and_the_platform_key(
    acme: Tenant, settings: Any, artifacts_root: Path, tmp_path: Path
) -> None:
    platform = age.identity_generate()
    settings.BACKUP_PLATFORM_KEY = platform
    backup = backup_create(acme, kind="manual")
    assert backup.state == Backup.State.SUCCEEDED, backup.error
    assert backup.encrypted and backup.artifact is not None
    assert backup.artifact.filename.endswith(".tar.zst.age")
    stored = _stored(backup, artifacts_root).read_bytes()
    assert stored.startswith(b"age-encryption.org/v1\n") and b"django_celery_beat" not in stored
    # By hand, as README says: unwrap the tenant's key with the platform key, then decrypt.
    key = TenantKey.objects.get(tenant=acme)
    tenant_key = _age_decrypt(platform, key.wrapped_identity.encode(), tmp_path).decode()
    assert age.identity_recipient(tenant_key) == key.recipient
    archive = _age_decrypt(tenant_key, stored, tmp_path)
    with backup_open(backup) as plain:
        assert plain.read() == archive
    listing = subprocess.run(["tar", "--zstd", "-t"], input=archive, capture_output=True)
    assert b"manifest.json" in listing.stdout, listing.stderr
    assert backup_verify(backup).verification == Backup.Verification.PASSED

    # Crypto-shredding: the key destroyed, the backup cannot be read any more.
    assert tenant_key_destroy(acme)
    backup = backup_verify(backup)
    assert backup.verification == Backup.Verification.FAILED
    assert backup.verify_error == "the backup key of acme was destroyed"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("malformed platform key", "BACKUP_PLATFORM_KEY is not a valid age identity"),
        ("platform key unset, tenant key kept", "no backup is written in cleartext"),
        ("another platform key", "was wrapped by another platform key"),
        ("tenant key destroyed", "the backup key of acme was destroyed"),
    ],
)
def test_encryption_fails_closed(acme: Tenant, settings: Any, case: str, message: str) -> None:
    settings.BACKUP_PLATFORM_KEY = age.identity_generate()
    assert backup_create(acme, kind="manual").encrypted  # makes acme's key
    if case == "malformed platform key":
        settings.BACKUP_PLATFORM_KEY = "AGE-SECRET-KEY-1NOTAKEY"
    elif case == "platform key unset, tenant key kept":
        settings.BACKUP_PLATFORM_KEY = ""
    elif case == "another platform key":
        settings.BACKUP_PLATFORM_KEY = age.identity_generate()
    else:
        tenant_key_destroy(acme)
    artifacts = Artifact.objects.count()
    backup = backup_create(acme, kind="manual")
    assert backup.state == Backup.State.FAILED and message in backup.error, backup.error
    assert backup.artifact is None and Artifact.objects.count() == artifacts  # nothing written


def test_a_backup_past_the_quota_fails_with_a_clear_error(acme: Tenant) -> None:
    acme.storage_quota_mb = 1
    acme.save(update_fields=["storage_quota_mb"])
    artifact_make(acme, b"x" * (1024 * 1024 - 100))  # the quota all but used
    backup = backup_create(acme, kind="manual")
    assert backup.state == Backup.State.FAILED and backup.artifact is None
    assert "would pass the tenant's storage quota of 1 MB" in backup.error, backup.error


def test_a_job_run_again_closes_its_interrupted_backup(acme: Tenant) -> None:
    stale = Backup.objects.create(tenant=acme, kind="scheduled", schema_name="acme",
                                  job_task_id="job-1")  # fmt: skip
    backup = backup_create(acme, kind="scheduled", job_task_id="job-1")
    stale.refresh_from_db()
    assert backup.state == Backup.State.SUCCEEDED
    assert (stale.state, stale.error) == ("failed", "interrupted: the job was run again")
