"""Backups off the normal path, on committed schemas (no test transaction holds their locks):
a schema whose DDL was changed by hand goes through pg_dump, and an archive restores by hand
with tar, sed and psql as README says."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from backups.archive import archive_load, archive_write
from saas.pg import pg_tool_path, server_major
from tenants.provisioning import schema_template_get
from tests.helpers import schema_shape

pytestmark = pytest.mark.usefixtures("live_db")


def _drop(*schemas: str) -> None:
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _assert_same(original: str, copy: str) -> dict[str, list[tuple[object, ...]]]:
    want, got = schema_shape(original, times=True), schema_shape(copy, times=True)
    for key in want.keys() | got.keys():
        assert want.get(key) == got.get(key), key
    return got


@pytest.fixture
def drifted() -> Iterator[str]:
    """A committed tenant-like schema whose DDL someone changed by hand (a column with a
    default, an index), with a row: the backup must see it as it is."""
    sql, placeholder = schema_template_get()
    db = connection.settings_dict
    side = psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None,
                           port=db["PORT"] or None, autocommit=True)  # fmt: skip
    side.execute("DROP SCHEMA IF EXISTS drifted CASCADE")
    side.execute("CREATE SCHEMA drifted")
    side.execute(placeholder.sub("drifted", sql).encode())
    side.execute("ALTER TABLE drifted.reports_reportrecipient ADD COLUMN note text DEFAULT 'hand'")
    side.execute("CREATE INDEX by_hand ON drifted.reports_reportrecipient (note)")
    side.execute(
        "INSERT INTO drifted.reports_reportrecipient (email, created_at) VALUES ('x@example.com', now())"
    )
    try:
        yield "drifted"
    finally:
        side.execute("DROP SCHEMA drifted CASCADE")
        side.close()


def test_a_schema_that_left_its_template_is_taken_by_pg_dump(drifted: str) -> None:
    writer = archive_write(schema_name=drifted, tenant={})
    data = b"".join(writer)
    assert writer.manifest is not None and writer.manifest.method == "pg_dump"
    assert writer.manifest.method_reason == "the schema differs from its template"
    try:
        archive_load(io.BytesIO(data), "drifted_copy")
        copy = _assert_same(drifted, "drifted_copy")
        assert any("by_hand" in str(row) for row in copy["indexes"])
    finally:
        _drop("drifted_copy")


def test_it_restores_by_hand_with_tar_sed_and_psql(tmp_path: Path) -> None:
    """What README says, done: extract, name the schema, run restore.sql with psql."""
    data = b"".join(archive_write(schema_name="acme", tenant={}))
    (tmp_path / "acme.tar.zst").write_bytes(data)
    subprocess.run(["tar", "--zstd", "-xf", "acme.tar.zst"], cwd=tmp_path, check=True)
    subprocess.run("sed -i 's/__schema__/acme_by_hand/g' *.sql", shell=True, cwd=tmp_path,
                   check=True)  # fmt: skip
    db = connection.settings_dict
    psql = [pg_tool_path("psql", server_major()), "-q", "-X", "-d", db["NAME"], "-U", db["USER"],
            "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]  # fmt: skip
    done = subprocess.run([*psql, "-f", "restore.sql"], cwd=tmp_path, capture_output=True,
                          env={**os.environ, "PGPASSWORD": db["PASSWORD"] or ""})  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr
        _assert_same("acme", "acme_by_hand")
    finally:
        _drop("acme_by_hand")
