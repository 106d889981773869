"""Retention (bytes go, the row stays; legal hold wins; backups never by date) and the scrub."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from artifacts.models import Artifact
from artifacts.tasks import artifacts_retention_task, artifacts_scrub_task
from artifacts.upkeep import artifacts_expire, artifacts_scrub
from backoffice.models import AuditEntry
from tenants.models import Tenant
from tests.helpers import artifact_make

pytestmark = pytest.mark.django_db
PAST = dt.timedelta(days=1)


def test_expired_bytes_go_and_the_row_stays(artifacts_root: Path, acme: Tenant) -> None:
    now = timezone.now()
    old = artifact_make(acme, title="Old", expires_at=now - PAST)
    held = artifact_make(acme, title="Held", expires_at=now - PAST)
    Artifact.objects.filter(pk=held.pk).update(legal_hold=True)
    backup = artifact_make(acme, kind="backup", title="Backup", expires_at=now - PAST)
    fresh = artifact_make(acme, title="Fresh", expires_at=now + PAST)
    assert artifacts_expire(now=now) == 1
    assert artifacts_expire(now=now) == 0  # a second run deletes nothing twice
    for artifact in (old, held, backup, fresh):
        artifact.refresh_from_db()
    assert old.deleted_at is not None and old.deleted_reason == "expired"
    assert not (artifacts_root / old.storage_key).exists()
    assert held.deleted_at is None and (artifacts_root / held.storage_key).exists()
    assert backup.deleted_at is None and (artifacts_root / backup.storage_key).exists()
    assert fresh.deleted_at is None


def test_the_scrub_flags_what_differs(artifacts_root: Path, acme: Tenant) -> None:
    good = artifact_make(acme, b"good bytes", title="Good")
    changed = artifact_make(acme, b"0123456789", title="Changed")
    short = artifact_make(acme, b"0123456789", title="Short")
    missing = artifact_make(acme, b"0123456789", title="Missing")
    (artifacts_root / changed.storage_key).write_bytes(b"9876543210")
    (artifacts_root / short.storage_key).write_bytes(b"01234")
    (artifacts_root / missing.storage_key).unlink()
    assert artifacts_scrub() == {"checked": 4, "flagged": 3}
    problems = dict(Artifact.objects.values_list("title", "problem"))
    assert problems == {"Good": "", "Changed": "checksum mismatch",
                        "Short": "file is 5 bytes, not 10", "Missing": "file missing"}  # fmt: skip
    assert AuditEntry.objects.filter(action="artifact.problem").count() == 3
    assert not Artifact.objects.filter(checked_at__isnull=True).exists()
    # Repaired, it verifies again and loses its flag.
    (artifacts_root / changed.storage_key).write_bytes(b"0123456789")
    artifacts_scrub()
    changed.refresh_from_db()
    assert changed.problem == "" and good.pk


def test_the_platform_tasks_run_the_services(artifacts_root: Path, acme: Tenant) -> None:
    artifact_make(acme, title="Old", expires_at=timezone.now() - PAST)
    assert artifacts_retention_task.run() == {"deleted": 1}
    assert artifacts_scrub_task.run() == {"checked": 0, "flagged": 0}


def test_the_scrub_and_the_retention_report_progress(artifacts_root: Path, acme: Tenant) -> None:
    now = timezone.now()
    for n in range(3):
        artifact_make(acme, title=f"File {n}", expires_at=now - PAST if n == 0 else None)
    seen: list[tuple[int, int | None, str]] = []
    artifacts_expire(progress=lambda done, total, message: seen.append((done, total, message)))
    assert seen == [(1, 1, "expired files deleted")]
    seen.clear()
    artifacts_scrub(progress=lambda done, total, message: seen.append((done, total, message)))
    assert [(done, total) for done, total, _ in seen] == [(1, 2), (2, 2)]
    assert seen[-1][2] == "files re-read, 0 flagged"
