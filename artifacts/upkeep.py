"""Retention and integrity: deleting expired artifacts' bytes (the rows stay as tombstones) and
re-reading stored files to compare them with the registry."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db.models import F
from django.utils import timezone

from artifacts.models import Artifact
from artifacts.services import artifact_bytes_delete, artifact_problem_flag
from artifacts.storage import bytes_read, key_valid, stored_size
from jobs.api import Progress


def artifacts_expire(
    *, now: dt.datetime | None = None, limit: int = 1000, progress: Progress | None = None
) -> int:
    """Delete the bytes of artifacts past their expiry. A legal hold wins; backups never expire
    by date here (the backups' own retention rule is the only thing that deletes them)."""
    now = now or timezone.now()
    due = (
        Artifact.objects.filter(deleted_at__isnull=True, expires_at__lte=now, legal_hold=False)
        .exclude(kind=Artifact.Kind.BACKUP)
        .order_by("expires_at")[:limit]
    )
    rows = list(due)
    deleted = 0
    for done, artifact in enumerate(rows, start=1):
        deleted += artifact_bytes_delete(artifact=artifact, reason="expired")
        if progress is not None:
            progress(done, len(rows), "expired files deleted")
    return deleted


def artifact_verify(artifact: Artifact) -> str:
    """Re-read the stored file: "" when its size and sha256 are the registry's, else what is
    wrong."""
    if not key_valid(artifact.storage_key, tenant_id=artifact.tenant_id):
        return "storage key is not a valid key"
    size = stored_size(artifact.storage_key)
    if size is None:
        return "file missing"
    if size != artifact.size:
        return f"file is {size} bytes, not {artifact.size}"
    digest = hashlib.sha256()
    for chunk in bytes_read(artifact.storage_key):
        digest.update(chunk)
    if digest.hexdigest() != artifact.sha256:
        return "checksum mismatch"
    return ""


def artifacts_scrub(*, limit: int = 1000, progress: Progress | None = None) -> dict[str, int]:
    """Verify the stored artifacts checked longest ago (never checked first); flag mismatches
    to staff. A file that verifies again loses an earlier flag."""
    checked = flagged = 0
    rows = list(
        Artifact.objects.filter(deleted_at__isnull=True).order_by(
            F("checked_at").asc(nulls_first=True), "pk"
        )[:limit]
    )
    for artifact in rows:
        problem = artifact_verify(artifact)
        checked += 1
        if problem:
            flagged += 1
            artifact_problem_flag(artifact=artifact, problem=problem)
        Artifact.objects.filter(pk=artifact.pk).update(
            checked_at=timezone.now(), **({} if problem else {"problem": ""})
        )
        if progress is not None:  # each file is read whole: a long pass says how far it is
            progress(checked, len(rows), f"files re-read, {flagged} flagged")
    return {"checked": checked, "flagged": flagged}
