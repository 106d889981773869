"""Writing artifacts and taking their bytes away: the only code that creates a registry row or
deletes stored bytes."""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from typing import IO, cast

from django.core.files import File
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from artifacts.models import Artifact
from artifacts.storage import HashingReader, QuotaExceeded, artifact_storage, key_make, stored_size
from backoffice.services import audit_record
from tenants.models import Tenant

logger = logging.getLogger(__name__)
MB = 1024 * 1024

# Who may download each kind unless its maker says otherwise (the rule table in access.py reads
# the row's audience, not the kind): reports are for members, everything else for owners.
DEFAULT_AUDIENCE = {
    Artifact.Kind.REPORT: Artifact.Audience.MEMBERS,
    Artifact.Kind.BACKUP: Artifact.Audience.OWNERS,
    Artifact.Kind.EXPORT: Artifact.Audience.OWNERS,
    Artifact.Kind.IMPORT_UPLOAD: Artifact.Audience.OWNERS,
    Artifact.Kind.IMPORT_ERRORS: Artifact.Audience.OWNERS,
}
# How long each kind is kept unless its maker says otherwise. Backups: None, never by date here
# (the backups issue's retention rule is the only thing that deletes them).
DEFAULT_RETENTION = {
    Artifact.Kind.REPORT: dt.timedelta(days=90),
    Artifact.Kind.BACKUP: None,
    Artifact.Kind.EXPORT: dt.timedelta(days=7),
    Artifact.Kind.IMPORT_UPLOAD: dt.timedelta(days=30),
    Artifact.Kind.IMPORT_ERRORS: dt.timedelta(days=30),
}


class _Default:
    """The kind's own retention (DEFAULT_RETENTION), as opposed to an explicit None: kept."""


KIND_DEFAULT = _Default()


class QuotaExceededError(QuotaExceeded):
    """Raised to the job that tried to write; its message is written for staff and owners."""


def filename_clean(name: str) -> str:
    """A download name with no path, no control characters and no leading dots: what a user or
    a report title put in it can never name another place on the downloader's disk."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    return name[:200] or "download"


def tenant_quota_bytes(tenant: Tenant) -> int:
    from django.conf import settings

    return (tenant.storage_quota_mb or settings.ARTIFACTS_QUOTA_MB) * MB


def tenant_storage_used(tenant: Tenant) -> int:
    """Bytes of this tenant's artifacts that are still stored (tombstones count nothing)."""
    used = Artifact.objects.filter(tenant=tenant, deleted_at__isnull=True).aggregate(n=Sum("size"))
    return int(used["n"] or 0)


def artifact_write(
    *,
    tenant: Tenant,
    kind: str,
    title: str,
    filename: str,
    content: Iterable[bytes] | IO[bytes],
    content_type: str = "",
    audience: str | None = None,
    requested_by: User | None = None,
    job_task_id: str = "",
    expires_at: dt.datetime | _Default | None = KIND_DEFAULT,
) -> Artifact:
    """Store `content` (an iterator of bytes or a file object, read once, in chunks) for
    `tenant` and register it. The sha256 and size are computed while the bytes go to storage.

    The bytes are written first and the row inserted after they are complete and their stored
    size checked: a write that fails, or would pass the tenant's quota, leaves no row (and its
    partial bytes are deleted), so a row never points at missing or short bytes."""
    kind = Artifact.Kind(kind)
    clean_name = filename_clean(filename)
    extension = clean_name.rsplit(".", 1)[-1].lower() if "." in clean_name else ""
    if not re.fullmatch(r"[a-z0-9]{1,8}", extension):
        extension = ""
    key = key_make(tenant_id=tenant.pk, kind=kind.value, extension=extension)
    quota = tenant_quota_bytes(tenant)
    reader = HashingReader(content, limit=max(0, quota - tenant_storage_used(tenant)))
    storage = artifact_storage()
    try:
        saved = storage.save(key, File(cast(IO[bytes], reader), name=key))
        if saved != key:  # a backend that renamed it: our key is the row's identity
            raise RuntimeError(f"storage saved {key!r} as {saved!r}")
        if stored_size(key) != reader.size:
            raise OSError(f"stored size of {key} differs from the {reader.size} bytes written")
        with transaction.atomic():
            # One writer per tenant at a time past this point: two jobs cannot both fit in
            # the last of the quota.
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            if tenant_storage_used(tenant) + reader.size > quota:
                raise QuotaExceeded("the file would pass the tenant's storage quota")
            return Artifact.objects.create(
                tenant=tenant, kind=kind, title=title[:200], filename=clean_name,
                audience=audience or DEFAULT_AUDIENCE[kind], storage_key=key,
                content_type=content_type or mimetypes.guess_type(clean_name)[0]
                or "application/octet-stream",
                size=reader.size, sha256=reader.sha256.hexdigest(), job_task_id=job_task_id,
                requested_by=requested_by,
                expires_at=_expiry(kind) if isinstance(expires_at, _Default) else expires_at,
            )  # fmt: skip
    except BaseException as exc:
        _bytes_discard(key)
        if isinstance(exc, QuotaExceeded):
            message = (
                f"{tenant.slug}: “{title}” was not kept: it would pass the tenant's storage "
                f"quota of {quota // MB} MB."
            )
            audit_record(
                actor=None, action="artifact.quota_exceeded", tenant=tenant,
                detail={"title": title, "kind": kind.value, "quota_mb": quota // MB},
            )  # fmt: skip
            raise QuotaExceededError(message) from exc
        raise


def _expiry(kind: Artifact.Kind) -> dt.datetime | None:
    keep = DEFAULT_RETENTION[kind]
    return timezone.now() + keep if keep is not None else None


def _bytes_discard(key: str) -> None:
    try:
        artifact_storage().delete(key)
    except Exception:  # the original error matters more; the scrub finds strays' absence
        logger.exception("could not delete the partial artifact %s", key)


def artifact_bytes_delete(*, artifact: Artifact, reason: str) -> bool:
    """Delete the stored bytes and keep the row as a tombstone. Claimed with a conditional
    update, so two runs delete once. Returns whether this call did it."""
    claimed = Artifact.objects.filter(pk=artifact.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), deleted_reason=reason[:100]
    )
    if not claimed:
        return False
    artifact_storage().delete(artifact.storage_key)
    artifact.refresh_from_db()
    return True


def artifact_problem_flag(*, artifact: Artifact, problem: str) -> None:
    """Tell staff a stored file is not what the registry says: the row shows it (admin filter,
    dashboard, the alert rule) and the audit log records it."""
    Artifact.objects.filter(pk=artifact.pk).update(problem=problem[:200])
    artifact.problem = problem[:200]
    audit_record(
        actor=None, action="artifact.problem", tenant=artifact.tenant, obj=artifact,
        detail={"problem": problem},
    )  # fmt: skip
    logger.error("artifact %s (%s): %s", artifact.pk, artifact.storage_key, problem)
