"""The archive: a round trip gives the same schema, row for row; damage is refused."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
import zstandard
from django.db import connection

from backups.archive import (
    ArchiveCorrupt,
    ArchiveError,
    ArchiveWriter,
    Manifest,
    archive_load,
    archive_write,
)
from tenants.models import Tenant
from tests.helpers import schema_shape

pytestmark = pytest.mark.django_db


def _archive(schema: str) -> tuple[bytes, ArchiveWriter]:
    writer = archive_write(schema_name=schema, tenant={"slug": schema})
    data = b"".join(writer)
    return data, writer


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_a_round_trip_gives_the_same_schema_row_for_row(acme: Tenant) -> None:
    data, writer = _archive("acme")
    manifest = archive_load(io.BytesIO(data), "acme_copy")
    assert manifest.method == "template" and manifest.schema == "acme"
    assert any(m.startswith("django_celery_beat.") for m in manifest.migrations)
    assert manifest.table_rows()["django_celery_beat_periodictask"] > 0
    original, copy = schema_shape("acme", times=True), schema_shape("acme_copy", times=True)
    for key in original.keys() | copy.keys():
        assert original.get(key) == copy.get(key), key
    assert writer.manifest is not None and writer.manifest.sha256 == manifest.sha256


def test_a_damaged_archive_is_refused_and_leaves_nothing(acme: Tenant) -> None:
    data, _ = _archive("acme")
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    # One byte of the rows changed, recompressed: only the manifest can tell.
    at = raw.index(b"sessions-cleanup-daily") + 3
    bad = raw[:at] + bytes([raw[at] ^ 0x20]) + raw[at + 1 :]  # sesSions
    with pytest.raises(ArchiveCorrupt, match="sha256 differs"):
        archive_load(io.BytesIO(zstandard.ZstdCompressor().compress(bad)), "acme_bad")
    assert not _schema_exists("acme_bad")
    with pytest.raises(ArchiveCorrupt):
        archive_load(io.BytesIO(data[: len(data) // 2]), "acme_bad")
    assert not _schema_exists("acme_bad")
    with pytest.raises(ArchiveError, match="already exists"):
        archive_load(io.BytesIO(data), "globex")


def test_the_archive_is_a_tar_a_person_can_read(acme: Tenant) -> None:
    data, _ = _archive("acme")
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        pre = tar.extractfile("pre-data.sql").read().decode()  # type: ignore[union-attr]
    assert names[0] == "pre-data.sql" and names[-1] == "manifest.json"
    assert "SHA256SUMS" in names and "restore.sql" in names
    assert "__schema__.django_celery_beat_periodictask" in pre and "acme" not in pre
    assert manifest["tenant"] == {"slug": "acme"}


def test_with_the_recorded_manifest_no_altered_sql_runs(acme: Tenant) -> None:
    data, writer = _archive("acme")
    assert writer.manifest is not None
    recorded = Manifest.from_json({**writer.manifest.to_json(), "archive": {}})
    recorded.parts[0].sha256 = "0" * 64  # pre-data.sql as the database remembers it
    with pytest.raises(ArchiveCorrupt, match=r"pre-data\.sql is not the one this backup recorded"):
        archive_load(io.BytesIO(data), "acme_bad", expected=recorded)
    assert not _schema_exists("acme_bad")
