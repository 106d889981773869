"""Writing artifacts: streamed with the sha256 on the fly, keyed by the tenant's id, within the
quota, and never a row that points at missing or short bytes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifacts.models import Artifact
from artifacts.services import QuotaExceededError, artifact_write, tenant_storage_used
from artifacts.storage import key_valid
from backoffice.models import AuditEntry
from tenants.models import Tenant
from tests.helpers import artifact_make

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


def _chunks(count: int, size: int = MB) -> Iterator[bytes]:
    for i in range(count):
        yield bytes([i % 251]) * size


def test_it_streams_chunks_and_records_size_and_sha256(artifacts_root: Path, acme: Tenant) -> None:
    expected = hashlib.sha256(b"".join(_chunks(5))).hexdigest()
    artifact = artifact_write(tenant=acme, kind="export", title="Everything",
                              filename="export.csv", content=_chunks(5))  # fmt: skip
    assert (artifact.size, artifact.sha256) == (5 * MB, expected)
    assert artifact.storage_key.startswith(f"{acme.pk}/export/")
    assert key_valid(artifact.storage_key, tenant_id=acme.pk)
    assert not key_valid(artifact.storage_key, tenant_id=acme.pk + 1)
    assert (artifacts_root / artifact.storage_key).stat().st_size == 5 * MB
    # Per-kind defaults: an export is for owners and expires in 7 days.
    assert artifact.audience == "owners" and artifact.expires_at is not None
    assert artifact.content_type == "text/csv"


def test_a_file_object_is_read_in_chunks(artifacts_root: Path, acme: Tenant) -> None:
    artifact = artifact_write(tenant=acme, kind="backup", title="Nightly", filename="a.dump",
                              content=io.BytesIO(b"x" * 700_000))  # fmt: skip
    assert artifact.size == 700_000 and artifact.expires_at is None  # backups: never by date
    assert artifact.audience == "owners"


def test_a_report_is_for_members_by_default(artifacts_root: Path, acme: Tenant) -> None:
    assert artifact_make(acme).audience == "members"


def test_what_a_user_typed_never_reaches_the_key(artifacts_root: Path, acme: Tenant) -> None:
    artifact = artifact_make(acme, filename="../../../etc/passwd")
    assert ".." not in artifact.storage_key and "passwd" not in artifact.storage_key
    assert artifact.filename == "passwd"
    assert artifact_make(acme, filename="..\\..\\evil.sh\x00").filename == "evil.sh"


def test_a_failing_source_leaves_no_row_and_no_bytes(artifacts_root: Path, acme: Tenant) -> None:
    def broken() -> Iterator[bytes]:
        yield b"a" * MB
        raise ConnectionError("the report renderer died")

    with pytest.raises(ConnectionError):
        artifact_write(tenant=acme, kind="report", title="Broken", filename="r.pdf",
                       content=broken())  # fmt: skip
    assert not Artifact.objects.filter(title="Broken").exists()
    assert [p for p in artifacts_root.rglob("*") if p.is_file()] == []


def test_the_quota_stops_a_write_with_a_clear_error(artifacts_root: Path, acme: Tenant) -> None:
    Tenant.objects.filter(pk=acme.pk).update(storage_quota_mb=3)
    acme.refresh_from_db()
    artifact_make(acme, b"x" * (2 * MB), title="First")
    with pytest.raises(QuotaExceededError, match="storage quota of 3 MB"):
        artifact_write(tenant=acme, kind="export", title="Too big", filename="e.csv",
                       content=_chunks(2))  # fmt: skip
    assert not Artifact.objects.filter(title="Too big").exists()
    assert len([p for p in artifacts_root.rglob("*") if p.is_file()]) == 1
    assert tenant_storage_used(acme) == 2 * MB
    # Staff are told.
    entry = AuditEntry.objects.get(action="artifact.quota_exceeded")
    assert entry.tenant_slug == "acme" and entry.detail["quota_mb"] == 3
