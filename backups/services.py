"""Backing up one tenant, opening a backup's archive, verifying a backup.

backup_create(tenant, kind=…)  → Backup (succeeded, or failed with its error): the archive
                                 (backups.archive), encrypted when keys say so
                                 (backups.keys), stored as an Artifact of kind backup
backup_open(backup)            → the plaintext .tar.zst, streamed (decrypted if need be)
backup_verify(backup)          → loads it into a scratch schema, compares every table's rows
                                 and sha256 and every sequence with the manifest, rolls the
                                 scratch schema back; records the result and the time
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import secrets
import time
import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from accounts.models import User
from artifacts.models import Artifact
from artifacts.services import artifact_write
from artifacts.serving import Plaintext, PlaintextUnavailable
from artifacts.storage import artifact_storage, bytes_read, stored_size
from backups import age
from backups.archive import (
    ArchiveCorrupt,
    ArchiveError,
    Manifest,
    archive_load,
    archive_write,
    table_digest,
)
from backups.keys import KeyProblem, backup_recipient, tenant_identity
from backups.models import Backup
from jobs.api import Progress
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class BackupFailed(RuntimeError):
    """Raised by the backup job so its JobRun fails with the backup's error."""


def _encrypted(chunks: Iterable[bytes], recipient: str) -> Iterator[bytes]:
    encryptor = age.Encryptor(recipient)
    for chunk in chunks:
        out = encryptor.update(chunk)
        if out:
            yield out
    yield encryptor.finish()


TITLES = {
    Backup.Kind.SCHEDULED: "Nightly backup",
    Backup.Kind.MANUAL: "On-demand backup",
    Backup.Kind.SAFETY: "Safety backup (before a restore)",
    Backup.Kind.FINAL: "Final backup (offboarding)",
}


def backup_title(backup: Backup, tenant: Tenant) -> str:
    """What people see in lists: the kind in words and the time in the tenant's own zone."""
    local = backup.started_at.astimezone(zoneinfo.ZoneInfo(tenant.timezone))
    return f"{TITLES[Backup.Kind(backup.kind)]} of {tenant.name}, {local:%Y-%m-%d %H:%M %Z}"


def backup_filename(tenant: Tenant, at: dt.datetime, *, encrypted: bool) -> str:
    return f"{tenant.slug}-{at:%Y%m%d-%H%M%S}Z.tar.zst" + (".age" if encrypted else "")


def backup_create(
    tenant: Tenant,
    *,
    kind: str,
    requested_by: User | None = None,
    progress: Progress | None = None,
    job_task_id: str = "",
) -> Backup:
    """Back up `tenant`'s schema now. Returns the Backup, `succeeded` with its artifact, or
    `failed` with the reason in `error` (keys, quota, database): never a half-written one."""
    if job_task_id:
        # The same job run again (its worker died midway): the earlier attempt's row is over.
        Backup.objects.filter(job_task_id=job_task_id, state=Backup.State.RUNNING).update(
            state=Backup.State.FAILED, error="interrupted: the job was run again",
            finished_at=timezone.now(),
        )  # fmt: skip
    backup = Backup.objects.create(
        tenant=tenant, kind=Backup.Kind(kind), schema_name=tenant.schema_name,
        requested_by=requested_by, job_task_id=job_task_id,
    )  # fmt: skip
    started = time.monotonic()
    try:
        recipient = backup_recipient(tenant)
        writer = archive_write(
            schema_name=tenant.schema_name,
            tenant={"id": tenant.pk, "slug": tenant.slug, "name": tenant.name},
            progress=progress,
        )
        content = _encrypted(writer, recipient) if recipient else iter(writer)
        at = backup.started_at.astimezone(dt.UTC)
        artifact = artifact_write(
            tenant=tenant, kind=Artifact.Kind.BACKUP,
            title=backup_title(backup, tenant),
            filename=backup_filename(tenant, at, encrypted=recipient is not None),
            content=content,
            content_type="application/octet-stream" if recipient else "application/zstd",
            audience=Artifact.Audience.OWNERS, requested_by=requested_by,
            job_task_id=job_task_id,
        )  # fmt: skip
        assert writer.manifest is not None
        manifest = writer.manifest.to_json()
        # The .tar.zst itself (what a decrypted download is): known only after the manifest.
        manifest["archive"] = {"bytes": writer.size, "sha256": writer.sha256.hexdigest()}
        backup.artifact, backup.method = artifact, writer.manifest.method
        backup.encrypted, backup.manifest, backup.size = (
            recipient is not None,
            manifest,
            artifact.size,
        )
        backup.state = Backup.State.SUCCEEDED
    except Exception as exc:
        logger.warning("backup of %s failed: %s", tenant.slug, exc, exc_info=not _expected(exc))
        backup.state = Backup.State.FAILED
        backup.error = _error_text(exc)
    backup.duration_s = round(time.monotonic() - started, 3)
    backup.finished_at = timezone.now()
    backup.save()
    return backup


def _expected(exc: Exception) -> bool:
    from artifacts.services import QuotaExceededError

    return isinstance(exc, KeyProblem | QuotaExceededError | ArchiveError)


def _error_text(exc: Exception) -> str:
    return str(exc) if _expected(exc) else f"{type(exc).__name__}: {exc}"


class _CheckedReader(io.RawIOBase):
    """The decrypted bytes; damage found by age is reported as a corrupt archive."""

    def __init__(self, inner: age.Decryptor) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            return self.inner.readinto(buffer)
        except age.AgeError as exc:
            raise ArchiveCorrupt(f"the encrypted archive is damaged: {exc}") from exc

    def close(self) -> None:
        self.inner.close()
        super().close()


@contextmanager
def backup_open(backup: Backup) -> Iterator[IO[bytes]]:
    """The backup's archive (.tar.zst) as a stream, decrypted if it was encrypted. ArchiveError
    when there is nothing to open; KeyProblem when the key is gone (crypto-shredded)."""
    artifact = backup.artifact
    if backup.state != Backup.State.SUCCEEDED or artifact is None:
        raise ArchiveError("this backup has no archive (it did not succeed)")
    if artifact.is_deleted:
        raise ArchiveError("this backup's archive was deleted")
    if stored_size(artifact.storage_key) != artifact.size:
        raise ArchiveCorrupt("the stored archive is missing or not of its recorded size")
    identity = tenant_identity(backup.tenant) if backup.encrypted else None
    with artifact_storage().open(artifact.storage_key, "rb") as stored:
        if identity is None:
            yield stored
            return
        try:
            decryptor = age.Decryptor(stored, identity)
        except age.AgeError as exc:
            raise ArchiveCorrupt(f"the encrypted archive cannot be opened: {exc}") from exc
        with io.BufferedReader(_CheckedReader(decryptor), buffer_size=age.CHUNK) as plain:
            yield plain


def backups_interrupted_close(*, now: dt.datetime | None = None) -> int:
    """Close backups whose job died and was never run again: a backup runs inside one job,
    which the hard time limit ends, so a row still running twice that long after it started
    will never finish. Marked failed ("interrupted"); returns how many."""
    now = now or timezone.now()
    limit = dt.timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    return Backup.objects.filter(state=Backup.State.RUNNING, started_at__lt=now - limit).update(
        state=Backup.State.FAILED, finished_at=now,
        error="interrupted: its job ended without finishing it (worker lost or time limit)",
    )  # fmt: skip


def backup_manifest(backup: Backup) -> Manifest:
    """The manifest recorded when the backup was made: pass it to archive_load as `expected`."""
    return Manifest.from_json(backup.manifest)


class _Rollback(Exception):
    pass


def backup_verify(backup: Backup, *, progress: Progress | None = None) -> Backup:
    """Restore the backup into a scratch schema, compare it with the manifest, drop it (the
    load is rolled back, so nothing is left even if this process dies). `verification` is
    `passed` only when every table's rows and sha256 and every sequence match."""
    scratch = f"bkv_{backup.pk}_{secrets.token_hex(4)}"
    started = time.monotonic()
    load_s: float | None = None
    error = ""
    try:
        _stored_check(backup)
        with backup_open(backup) as stream, transaction.atomic():
            manifest = archive_load(
                stream, scratch, progress=progress, expected=backup_manifest(backup)
            )
            load_s = time.monotonic() - started
            _compare(backup, manifest, scratch)
            raise _Rollback
    except _Rollback:
        pass
    except (ArchiveError, KeyProblem) as exc:
        error = str(exc)
    except Exception as exc:
        logger.exception("verify of backup %s failed", backup.pk)
        error = f"{type(exc).__name__}: {exc}"
    backup.verification = Backup.Verification.FAILED if error else Backup.Verification.PASSED
    backup.verify_error = error
    backup.verified_at = timezone.now()
    backup.verify_duration_s = round(load_s, 3) if load_s is not None else None
    backup.save(update_fields=["verification", "verify_error", "verified_at", "verify_duration_s"])
    return backup


def _stored_check(backup: Backup) -> None:
    """The stored bytes are those written (the artifact's sha256), before anything is loaded."""
    artifact = backup.artifact
    if artifact is None or artifact.is_deleted:
        return  # backup_open says why
    if stored_size(artifact.storage_key) != artifact.size:
        raise ArchiveCorrupt("the stored archive is missing or not of its recorded size")
    digest = hashlib.sha256()
    for chunk in bytes_read(artifact.storage_key):
        digest.update(chunk)
    if digest.hexdigest() != artifact.sha256:
        raise ArchiveCorrupt("the stored archive differs from its checksum: it was damaged")


def _compare(backup: Backup, manifest: Manifest, scratch: str) -> None:
    for table in manifest.tables:
        rows, digest = table_digest(scratch, table.name)
        if rows != table.rows:
            raise ArchiveCorrupt(f"{table.name}: {rows} rows restored, {table.rows} backed up")
        if digest != table.sha256:
            raise ArchiveCorrupt(f"{table.name}: restored rows differ from the backup (sha256)")
    with connection.cursor() as cursor:
        for sequence in manifest.sequences:
            cursor.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(
                    sql.Identifier(scratch, sequence["name"])
                )
            )
            got = cursor.fetchone()
            if got is None or (int(got[0]), bool(got[1])) != (
                sequence["last_value"],
                sequence["is_called"],
            ):
                raise ArchiveCorrupt(f"sequence {sequence['name']} is not where it was")


def backup_plaintext(artifact: Artifact) -> Plaintext | None:
    """How a download of an encrypted backup's artifact is served: decrypted, streamed (see
    artifacts.serving); None for a cleartext one, whose stored bytes are the archive."""
    backup = Backup.objects.filter(artifact=artifact).select_related("tenant").first()
    if backup is None or not backup.encrypted:
        return None
    archive = backup.manifest.get("archive") or {}
    try:
        tenant_identity(backup.tenant)  # refuse before the first byte when the key is gone
    except KeyProblem as exc:
        raise PlaintextUnavailable(str(exc)) from exc
    return Plaintext(
        open=lambda: backup_open(backup),
        size=int(archive["bytes"]),
        sha256=str(archive["sha256"]),
        filename=artifact.filename.removesuffix(".age"),
        content_type="application/zstd",
    )
