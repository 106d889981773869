"""The backup archive of one tenant schema: writing it from a consistent snapshot, loading it
into a new schema, and its manifest.

The archive is a tar, zstd-compressed (`.tar.zst`), readable with `tar --zstd` and psql:

    pre-data.sql            types, tables, sequences, defaults        (schema name: __schema__)
    data/<table>/0000.copy  the rows, as `COPY … TO STDOUT` writes them (text format), in parts
    …                       of at most PART_BYTES, each cut at a row's end
    post-data.sql           constraints, indexes, triggers
    sequences.sql           every sequence's position (setval)
    restore.sql             a psql script that loads all of the above (see README)
    SHA256SUMS              sha256 of every part above, as `sha256sum` writes them
    manifest.json           tenant, schema, migrations, versions, tables with row counts and
                            sha256, sizes, duration, how the DDL was taken

The manifest comes last because the counts and digests are known only once the rows went by;
the archive is written in one pass and never held in memory or on disk. Its digest of the
whole is the sha256 of SHA256SUMS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any
from urllib.parse import quote, unquote

import psycopg
import zstandard
from django.db import DatabaseError, connection, transaction
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from backups.schema import (
    PLACEHOLDER,
    Relation,
    SchemaDDL,
    identifier_re,
    relations_read,
    schema_ddl,
)
from jobs.api import Progress

FORMAT = "saas-tenant-backup/1"
PART_BYTES = 4 * 1024 * 1024  # rows of one table per data part (memory bound while writing)
ZSTD_LEVEL = 1  # as small as level 3 on this data, twice as fast
READ_CHUNK = 256 * 1024
COPY_FREEZE = True
SCHEMA_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
Chunk = bytes | memoryview


class ArchiveError(Exception):
    """The archive cannot be loaded; nothing was left behind."""


class ArchiveCorrupt(ArchiveError):
    """The archive is damaged, cut short, or does not match its manifest."""


@dataclass
class Part:
    path: str
    sha256: str
    bytes: int
    rows: int | None = None


@dataclass
class TableEntry:
    name: str
    rows: int
    bytes: int
    sha256: str  # of all its parts' bytes in order: what `COPY … TO STDOUT` gave
    parts: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    format: str
    tenant: dict[str, Any]
    schema: str
    placeholder: str
    method: str
    method_reason: str
    shape: str
    migrations: list[str]
    versions: dict[str, str]
    created_at: str
    tables: list[TableEntry]
    sequences: list[dict[str, Any]]
    parts: list[Part]
    sha256: str  # the whole: sha256 of SHA256SUMS
    uncompressed_bytes: int
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise ArchiveCorrupt(f"not an archive of format {FORMAT} ({data.get('format')!r})")
        try:
            # Only the archive's own fields (a Backup row's copy also holds `archive`).
            values = {key: data[key] for key in cls.__dataclass_fields__}
            values["tables"] = [TableEntry(**t) for t in data["tables"]]
            values["parts"] = [Part(**p) for p in data["parts"]]
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ArchiveCorrupt(f"the manifest is malformed: {exc}") from exc

    def table_rows(self) -> dict[str, int]:
        return {t.name: t.rows for t in self.tables}


def data_part_path(table: str, index: int) -> str:
    return f"data/{quote(table, safe='')}/{index:04d}.copy"


def _table_of(path: str) -> str:
    return unquote(path.split("/")[1])


# --- Writing -------------------------------------------------------------------------------------
def _tar_member(path: str, size: int) -> bytes:
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def _snapshot_connection(**extra: Any) -> psycopg.Connection[Any]:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=str(db["NAME"]), user=str(db.get("USER") or "postgres"),
        password=str(db.get("PASSWORD") or "") or None, host=str(db.get("HOST") or "") or None,
        port=str(db.get("PORT") or "") or None, autocommit=False, **extra,
    )  # fmt: skip


class ArchiveWriter:
    """Iterate to get the compressed archive of `schema_name`; afterwards `manifest`, `size` and
    `sha256` (of the .tar.zst bytes) describe it. One REPEATABLE READ, READ ONLY transaction on
    its own connection: every table as of one instant, whatever the caller's transaction."""

    def __init__(
        self, *, schema_name: str, tenant: dict[str, Any], progress: Progress | None = None
    ) -> None:
        self.schema_name = schema_name
        self.tenant = tenant
        self.progress = progress or (lambda done, total, message: None)
        self.manifest: Manifest | None = None
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
        self._parts: list[Part] = []
        self._uncompressed = 0

    def __iter__(self) -> Iterator[bytes]:
        started = time.monotonic()
        stream = self._compressor.compressobj()
        for chunk in self._tar(started):
            self._uncompressed += len(chunk)
            out = stream.compress(chunk)
            if out:
                yield self._count(out)
        yield self._count(stream.flush())

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        self.sha256.update(data)
        return data

    def _file(self, path: str, data: bytes, rows: int | None = None) -> Iterator[Chunk]:
        self._parts.append(
            Part(path=path, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), rows=rows)
        )
        yield _tar_member(path, len(data))
        with memoryview(data) as view:  # in slices: the codec's buffers stay small
            for start in range(0, len(data), READ_CHUNK):
                yield view[start : start + READ_CHUNK]
        yield _padding(len(data))

    def _tar(self, started: float) -> Iterator[Chunk]:
        with _snapshot_connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SET search_path TO pg_catalog")
            conn.execute("SET LOCAL lock_timeout = '60s'")
            snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
            found = self._relations(conn)
            tables = [r.name for r in found[1] if r.kind == "r"]
            sequences = [r.name for r in found[1] if r.kind == "S"]
            # As pg_dump does: no DDL may change a table while we read it.
            if tables:
                conn.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
                        sql.SQL(", ").join(sql.Identifier(self.schema_name, t) for t in tables)
                    )
                )
            ddl = schema_ddl(conn, self.schema_name, snapshot=snapshot, found=found)
            migrations = self._migrations(conn, tables)
            yield from self._file("pre-data.sql", ddl.pre_data.encode())
            entries = []
            for index, table in enumerate(tables):
                self.progress(index, len(tables), f"table {table}")
                entry = TableEntry(name=table, rows=0, bytes=0, sha256="")
                yield from self._table(conn, entry)
                entries.append(entry)
            self.progress(len(tables), len(tables), "indexes and sequences")
            yield from self._file("post-data.sql", ddl.post_data.encode())
            positions = self._positions(conn, sequences)
            conn.rollback()
        yield from self._file("sequences.sql", _sequences_sql(positions).encode())
        yield from self._file("restore.sql", _restore_sql(entries).encode())
        sums = "".join(f"{p.sha256}  {p.path}\n" for p in self._parts).encode()
        whole = hashlib.sha256(sums).hexdigest()
        yield from self._file("SHA256SUMS", sums)
        self.manifest = self._manifest(ddl, migrations, entries, positions, whole, started)
        body = json.dumps(self.manifest.to_json(), indent=1, sort_keys=True).encode()
        yield _tar_member("manifest.json", len(body))
        yield body
        yield _padding(len(body))
        yield b"\0" * (2 * tarfile.BLOCKSIZE)  # the end-of-archive marker

    def _relations(self, conn: psycopg.Connection[Any]) -> tuple[int, list[Relation]]:
        try:
            return relations_read(conn, self.schema_name)
        except LookupError as exc:
            raise ArchiveError(str(exc)) from exc

    def _migrations(self, conn: psycopg.Connection[Any], tables: list[str]) -> list[str]:
        if "django_migrations" not in tables:
            return []
        rows = conn.execute(
            sql.SQL("SELECT app, name FROM {} ORDER BY id").format(
                sql.Identifier(self.schema_name, "django_migrations")
            )
        ).fetchall()
        return [f"{app}.{name}" for app, name in rows]

    def _table(self, conn: psycopg.Connection[Any], entry: TableEntry) -> Iterator[Chunk]:
        """The table's rows in parts of about PART_BYTES, each ending at a row's end."""
        digest = hashlib.sha256()
        buffer = bytearray()
        index = 0

        def part(data: bytes) -> Iterator[Chunk]:
            nonlocal index
            rows = data.count(b"\n")  # text COPY escapes newlines inside values
            digest.update(data)
            entry.rows += rows
            entry.bytes += len(data)
            path = data_part_path(entry.name, index)
            entry.parts.append(path)
            index += 1
            yield from self._file(path, data, rows=rows)

        statement = sql.SQL("COPY {} TO STDOUT").format(
            sql.Identifier(self.schema_name, entry.name)
        )
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in copy:
                buffer += chunk
                if len(buffer) >= PART_BYTES:
                    cut = buffer.rfind(b"\n") + 1
                    with memoryview(buffer) as view:
                        data = bytes(view[:cut])
                    del buffer[:cut]
                    yield from part(data)
        if buffer or not entry.parts:
            yield from part(bytes(buffer))
        entry.sha256 = digest.hexdigest()

    def _positions(
        self, conn: psycopg.Connection[Any], sequences: list[str]
    ) -> list[dict[str, Any]]:
        positions = []
        for name in sequences:
            last_value, is_called = conn.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(
                    sql.Identifier(self.schema_name, name)
                )
            ).fetchone()  # type: ignore[misc]
            positions.append({"name": name, "last_value": int(last_value), "is_called": is_called})
        return positions

    def _manifest(
        self, ddl: SchemaDDL, migrations: list[str], entries: list[TableEntry],
        positions: list[dict[str, Any]], whole: str, started: float,
    ) -> Manifest:  # fmt: skip
        import django

        from saas.pg import server_version

        return Manifest(
            format=FORMAT, tenant=self.tenant, schema=self.schema_name, placeholder=PLACEHOLDER,
            method=ddl.method, method_reason=ddl.reason, shape=ddl.shape, migrations=migrations,
            versions={
                "server": str(server_version()), "django": django.get_version(),
                "psycopg": psycopg.__version__, "zstandard": zstandard.__version__,
                "pg_dump": "used for the DDL" if ddl.method == "pg_dump" else "not used",
            },
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            tables=entries, sequences=positions, parts=self._parts, sha256=whole,
            uncompressed_bytes=self._uncompressed, duration_s=round(time.monotonic() - started, 3),
        )  # fmt: skip


def _sequences_sql(positions: list[dict[str, Any]]) -> str:
    return "".join(
        f"SELECT pg_catalog.setval('{PLACEHOLDER}.\"{p['name']}\"', {p['last_value']}, "
        f"{'true' if p['is_called'] else 'false'});\n"
        for p in positions
    )


def _restore_sql(entries: list[TableEntry]) -> str:
    lines = [
        "-- Load this archive into a new schema: replace __schema__ in the .sql files with its",
        "-- name, then run `psql -f restore.sql` from this directory (README: restoring by hand).",
        "\\set ON_ERROR_STOP on",
        "BEGIN;",
        f"CREATE SCHEMA {PLACEHOLDER};",
        "\\ir pre-data.sql",
    ]
    for entry in entries:
        for path in entry.parts:
            lines.append(f"\\copy {PLACEHOLDER}.\"{entry.name}\" FROM '{path}'")
    lines += ["\\ir post-data.sql", "\\ir sequences.sql", "COMMIT;", ""]
    return "\n".join(lines)


def archive_write(
    *, schema_name: str, tenant: dict[str, Any], progress: Progress | None = None
) -> ArchiveWriter:
    """The archive of `schema_name`, made as it is iterated (see ArchiveWriter)."""
    return ArchiveWriter(schema_name=schema_name, tenant=tenant, progress=progress)


# --- Loading -------------------------------------------------------------------------------------
class _Seen:
    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self.order: list[str] = []

    def add(self, path: str, digest: str, size: int, rows: int | None = None) -> None:
        if path in self.parts:
            raise ArchiveCorrupt(f"{path} appears twice")
        self.parts[path] = Part(path=path, sha256=digest, bytes=size, rows=rows)
        self.order.append(path)


# What a damaged or altered archive makes PostgreSQL say (as opposed to a lost connection).
_BAD_CONTENT = (
    psycopg.errors.DataError,
    psycopg.errors.SyntaxErrorOrAccessRuleViolation,
    psycopg.errors.IntegrityError,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedObject,
)


def archive_load(
    source: IO[bytes],
    schema_name: str,
    *,
    progress: Progress | None = None,
    expected: Manifest | None = None,
) -> Manifest:
    """Create `schema_name` (it must not exist) and load the archive read from `source` (the
    plaintext .tar.zst) into it, in one transaction: tables, rows, indexes and constraints,
    sequence positions. Every part's sha256 and every table's row count are checked against the
    manifest; on any failure (ArchiveCorrupt, or ArchiveError for a bad target) nothing is left.

    `expected`: the manifest recorded when the backup was made (`backup_manifest(backup)`, from
    the database): each SQL part is then checked against it *before* it runs, and the archive's
    own manifest must be that one (an archive swapped or altered in storage runs no SQL)."""
    if not SCHEMA_NAME_RE.match(schema_name):
        raise ArchiveError(f"not a schema name we create: {schema_name!r}")
    report = progress or (lambda done, total, message: None)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
            if cursor.fetchone():
                raise ArchiveError(f"schema {schema_name!r} already exists")
            cursor.execute(f'CREATE SCHEMA "{schema_name}"')
            # For the index builds of post-data, as PostgreSQL's docs advise for a restore.
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            manifest = _load(cursor.cursor, source, schema_name, report, expected)
    except (zstandard.ZstdError, tarfile.TarError, EOFError, UnicodeDecodeError) as exc:
        raise ArchiveCorrupt(f"the archive is damaged: {exc}") from exc
    except (DatabaseError, psycopg.Error) as exc:
        cause = exc.__cause__ if isinstance(exc, DatabaseError) else exc
        if isinstance(cause, _BAD_CONTENT):
            raise ArchiveCorrupt(f"the archive does not load: {exc}") from exc
        raise
    return manifest


def _load(
    cursor: Any, source: IO[bytes], schema: str, report: Progress, expected: Manifest | None
) -> Manifest:
    placeholder = identifier_re(PLACEHOLDER)
    trusted = {p.path: p.sha256 for p in expected.parts} if expected is not None else None
    seen = _Seen()
    manifest: Manifest | None = None
    reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        for member in tar:
            if manifest is not None:
                raise ArchiveCorrupt(f"{member.name} after the manifest")
            if not member.isfile():
                raise ArchiveCorrupt(f"unexpected tar entry {member.name!r}")
            handle = tar.extractfile(member)
            assert handle is not None
            if member.name.startswith("data/"):
                _copy_in(cursor, handle, schema, member.name, seen)
                report(len(seen.order), None, f"loaded {member.name}")
                continue
            if member.size > 256 * 1024 * 1024:
                raise ArchiveCorrupt(f"{member.name} is too large")
            data = handle.read()
            if member.name == "manifest.json":
                manifest = Manifest.from_json(json.loads(data))
                continue
            digest = hashlib.sha256(data).hexdigest()
            seen.add(member.name, digest, len(data))
            if trusted is not None and trusted.get(member.name) != digest:
                raise ArchiveCorrupt(f"{member.name} is not the one this backup recorded")
            if member.name in ("pre-data.sql", "post-data.sql", "sequences.sql"):
                cursor.execute(placeholder.sub(schema, data.decode()).encode())
            elif member.name not in ("restore.sql", "SHA256SUMS"):
                raise ArchiveCorrupt(f"unexpected file {member.name!r} in the archive")
    if manifest is None:
        raise ArchiveCorrupt("the archive is damaged or cut short: it ends before its manifest")
    if expected is not None and manifest.sha256 != expected.sha256:
        raise ArchiveCorrupt("the archive is not the one this backup recorded")
    _check(manifest, seen)
    return manifest


def _copy_in(cursor: Any, handle: IO[bytes], schema: str, path: str, seen: _Seen) -> None:
    if not re.fullmatch(r"data/[^/]+/\d{4}\.copy", path):
        raise ArchiveCorrupt(f"unexpected file {path!r} in the archive")
    digest, size = hashlib.sha256(), 0
    # FREEZE: the tables were made in this (sub)transaction, so their rows can be written
    # frozen: no hint-bit writes on first read (verify reads them all) and no freezing vacuum.
    statement = sql.SQL("COPY {} FROM STDIN" + (" WITH (FREEZE)" if COPY_FREEZE else "")).format(
        sql.Identifier(schema, _table_of(path))
    )
    # A thread sends to the server while this one decompresses and hashes the next chunk.
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            copy.write(chunk)
    seen.add(path, digest.hexdigest(), size, cursor.rowcount)  # the rows the server loaded


def _check(manifest: Manifest, seen: _Seen) -> None:
    """Every part the manifest names was there, in order, with its digest and rows, and nothing
    else; the tables add up; the whole's digest is that of SHA256SUMS."""
    expected = [p.path for p in manifest.parts]
    if seen.order != expected:
        missing = sorted(set(expected) - set(seen.order))
        extra = sorted(set(seen.order) - set(expected))
        raise ArchiveCorrupt(f"parts differ from the manifest (missing {missing}, extra {extra})")
    for part in manifest.parts:
        got = seen.parts[part.path]
        if (got.sha256, got.bytes) != (part.sha256, part.bytes):
            raise ArchiveCorrupt(f"{part.path}: sha256 differs from the manifest")
        if part.rows is not None and got.rows != part.rows:
            raise ArchiveCorrupt(f"{part.path}: {got.rows} rows, the manifest says {part.rows}")
    by_path = seen.parts
    for table in manifest.tables:
        rows = sum(by_path[p].rows or 0 for p in table.parts)
        if rows != table.rows:
            raise ArchiveCorrupt(f"table {table.name}: {rows} rows, the manifest says {table.rows}")
    if hashlib.sha256(b"".join(
        f"{p.sha256}  {p.path}\n".encode() for p in manifest.parts if p.path != "SHA256SUMS"
    )).hexdigest() != manifest.sha256:  # fmt: skip
        raise ArchiveCorrupt("the archive's digest differs from the manifest")


def table_digest(schema: str, table: str) -> tuple[int, str]:
    """Rows and sha256 of a table's `COPY … TO STDOUT`, read back after a load (verify)."""
    digest, rows = hashlib.sha256(), 0
    with connection.cursor() as wrapper:
        statement = sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(schema, table))
        with wrapper.cursor.copy(statement) as copy:
            for chunk in copy:
                digest.update(chunk)
                rows += bytes(chunk).count(b"\n")
    return rows, digest.hexdigest()


__all__ = [
    "ArchiveCorrupt",
    "ArchiveError",
    "ArchiveWriter",
    "Manifest",
    "archive_load",
    "archive_write",
    "table_digest",
]
