"""An import, from the upload to the apply: `import_upload` keeps the file as an artifact and
opens an ImportRun; `import_check` reads it all and shows what would change (a dry run: the
same pass as the apply, rolled back); `import_apply` runs that pass again and commits it, all
or nothing (or without the invalid rows, if asked). Both stream the file in chunks of
CHUNK_ROWS and hand each chunk to the resource, which reads and writes it in a few queries.

Each step claims its run with a conditional update, so a step run twice (a job delivered
again, two clicks) does its work once."""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from artifacts.models import Artifact
from artifacts.services import artifact_write
from artifacts.storage import artifact_storage
from backoffice.services import audit_record
from dataport.formats import FileRefused, Limits, cell_escape, rows_read
from dataport.models import ImportRun
from dataport.registry import CHUNK_ROWS, ImportableResource, RowResult, importable_get
from jobs.api import Progress
from tenants.models import Tenant

logger = logging.getLogger(__name__)
PREVIEW_PER_ACTION = 20
ERRORS_SHOWN = 200
# The failed-rows file carries the errors in this last column; a file that comes back with it
# (fixed) is read as if it were not there.
ERRORS_COLUMN = "errors"
MB = 1024 * 1024


class ImportFailed(Exception):
    """The pass found errors (and invalid rows were not to be skipped), or the resource refused
    the whole: everything it wrote is rolled back."""


def import_limits() -> Limits:
    return Limits(
        max_rows=settings.DATAPORT_MAX_ROWS,
        max_unzipped_bytes=settings.DATAPORT_XLSX_MAX_UNZIPPED_MB * MB,
    )


def import_format_of(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in ("csv", "xlsx", "json"):
        raise FileRefused("Upload a .csv, .xlsx or .json file.")
    return ext


def import_upload(
    *, tenant: Tenant, resource_name: str, filename: str, content: IO[bytes], size: int,
    user: User | None,
) -> ImportRun:  # fmt: skip
    """Keep the uploaded file (an artifact of kind import_upload: any web process or worker can
    read it) and open a run for it. FileRefused for a file refused on its name or size."""
    resource = importable_get(resource_name)
    fmt = import_format_of(filename)
    limit = settings.DATAPORT_JSON_MAX_MB if fmt == "json" else settings.DATAPORT_MAX_MB
    if size > limit * MB:
        raise FileRefused(
            f"The file is {size / MB:,.1f} MB; a{' JSON' if fmt == 'json' else 'n'} import "
            f"takes at most {limit:,} MB. Split it{', or use CSV' if fmt == 'json' else ''}."
        )
    if size == 0:
        raise FileRefused("The file is empty.")
    upload = artifact_write(
        tenant=tenant, kind=Artifact.Kind.IMPORT_UPLOAD, title=f"Import of {resource.resource_title}",
        filename=filename, content=content, requested_by=user,
    )  # fmt: skip
    return ImportRun.objects.create(
        tenant=tenant, resource=resource_name, format=fmt, upload=upload, created_by=user
    )


def import_is_large(run: ImportRun) -> bool:
    """Checked and applied by a job (with progress) rather than inside the request."""
    return run.upload.size > settings.DATAPORT_SYNC_MAX_KB * 1024


def import_run_get(*, tenant: Tenant, run_id: int) -> ImportRun:
    """A run of this tenant; ImportRun.DoesNotExist for any other id (another tenant's too)."""
    return ImportRun.objects.select_related("upload", "errors_file").get(pk=run_id, tenant=tenant)


def import_check(
    *, run: ImportRun, progress: Progress | None = None, again: bool = False
) -> ImportRun:
    """The dry run. `again`: a job delivered again may redo a check cut short (it writes
    nothing but the run's own row)."""
    states = [ImportRun.State.UPLOADED, *([ImportRun.State.CHECKING] if again else [])]
    if not _claim(run, states, ImportRun.State.CHECKING):
        return run
    outcome = _pass(run, dry_run=True, progress=progress)
    run.state = ImportRun.State.REFUSED if outcome.refused else ImportRun.State.CHECKED
    run.checked_at = timezone.now()
    return _record(run, outcome)


def import_confirm(*, run: ImportRun, skip_invalid: bool) -> bool:
    """Staff said yes to a checked run (once: a second click finds it confirmed)."""
    run.skip_invalid = skip_invalid
    return _claim(
        run, [ImportRun.State.CHECKED], ImportRun.State.CONFIRMED, skip_invalid=skip_invalid
    )


def import_apply(
    *, run: ImportRun, actor: User | None, progress: Progress | None = None, again: bool = False
) -> ImportRun:
    """Apply a confirmed run. `again`: a job delivered again redoes an apply cut short; its
    transaction either committed (the rows are then found unchanged by key) or left nothing."""
    states = [ImportRun.State.CONFIRMED, *([ImportRun.State.APPLYING] if again else [])]
    if not _claim(run, states, ImportRun.State.APPLYING):
        return run
    skip_invalid = run.skip_invalid
    outcome = _pass(run, dry_run=False, progress=progress)
    run.state = (
        ImportRun.State.FAILED if outcome.refused or outcome.failed else ImportRun.State.APPLIED
    )
    run.applied_at = timezone.now()
    _record(run, outcome)
    audit_record(
        actor=actor, action="import.apply" if run.state == ImportRun.State.APPLIED else "import.fail",
        tenant=run.tenant, obj=run,
        detail={"resource": run.resource, "counts": run.counts, "skip_invalid": skip_invalid,
                "message": run.message, "upload": run.upload_id},
    )  # fmt: skip
    return run


def import_cancel(*, run: ImportRun) -> bool:
    return _claim(run, [ImportRun.State.CHECKED], ImportRun.State.CANCELLED)


def _claim(run: ImportRun, old: Sequence[str], new: str, **also: Any) -> bool:
    claimed = ImportRun.objects.filter(pk=run.pk, state__in=old).update(state=new, **also)
    if claimed:
        run.state = new
    return bool(claimed)


@dataclass
class _Outcome:
    counts: Counter[str] = field(default_factory=Counter)
    preview: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    refused: bool = False
    failed: bool = False
    errors_path: str | None = None


def _pass(run: ImportRun, *, dry_run: bool, progress: Progress | None) -> _Outcome:
    """Read the whole file and hand it to the resource chunk by chunk, inside one transaction:
    rolled back for a dry run, and for an apply that found errors it may not skip."""
    resource = importable_get(run.resource)
    outcome = _Outcome()
    columns = [*resource.get_export_headers(), ERRORS_COLUMN]  # the failed-rows file's
    shown: Counter[str] = Counter()
    with tempfile.TemporaryFile() as source, tempfile.NamedTemporaryFile(
        "w+", encoding="utf-8", newline="", suffix=".csv", delete=False
    ) as failed_rows:  # fmt: skip
        _upload_copy(run.upload, source)
        failed_writer = csv.writer(failed_rows)
        failed_writer.writerow(columns)
        try:
            with transaction.atomic():
                keys = _KeyTable(casefold=resource.import_key_casefold)
                done = 0
                rows = rows_read(source, run.format, columns=columns[:-1], ignored=[ERRORS_COLUMN],
                                 required=resource.import_required, limits=import_limits())  # fmt: skip
                for chunk in _chunks(rows, CHUNK_ROWS):
                    results = _chunk_run(resource, run.tenant, chunk, keys, dry_run)
                    by_row = dict(chunk)
                    for result in results:
                        _tally(outcome, shown, result, failed_writer, columns, by_row[result.row])
                    done += len(chunk)
                    if progress is not None:
                        progress(
                            done, None, f"{done:,} rows {'checked' if dry_run else 'imported'}"
                        )
                end = getattr(resource, "import_end", None)
                problem = end(tenant=run.tenant, dry_run=dry_run) if end is not None else ""
                if problem:
                    outcome.message, outcome.failed = problem, True
                    raise ImportFailed(problem)
                if outcome.counts["error"] and not run.skip_invalid and not dry_run:
                    outcome.failed = True
                    outcome.message = (
                        f"Nothing was imported: {outcome.counts['error']:,} rows have errors. "
                        "Fix them (download the failed rows), or import the valid rows only."
                    )
                    raise ImportFailed(outcome.message)
                if dry_run:
                    transaction.set_rollback(True)
        except FileRefused as exc:
            outcome.refused, outcome.message = True, str(exc)
        except ImportFailed:
            pass
        if outcome.counts["error"] and not outcome.refused:
            outcome.errors_path = failed_rows.name
        else:
            failed_rows.close()
    return outcome


def _upload_copy(upload: Artifact, target: IO[bytes]) -> None:
    # A local seekable copy (openpyxl and the zip check seek; S3 objects do not stream back).
    with artifact_storage().open(upload.storage_key, "rb") as handle:
        shutil.copyfileobj(handle, target, 1024 * 1024)
    target.seek(0)


def _chunks(
    rows: Iterable[tuple[int, dict[str, str]]], size: int
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    chunk: list[tuple[int, dict[str, str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _chunk_run(
    resource: ImportableResource, tenant: Tenant, chunk: list[tuple[int, dict[str, str]]],
    keys: _KeyTable, dry_run: bool,
) -> list[RowResult]:  # fmt: skip
    firsts = keys.add([(number, row.get(resource.import_key, "")) for number, row in chunk])
    results = [
        RowResult(row=number, action="error", key=row.get(resource.import_key, ""),
                  errors=[(resource.import_key, f"“{row.get(resource.import_key, '')}” is also in "
                                                f"row {firsts[number]}: a key appears once in a file.")])
        for number, row in chunk if number in firsts
    ]  # fmt: skip
    rest = [(number, row) for number, row in chunk if number not in firsts]
    results += resource.import_chunk(tenant=tenant, rows=rest, dry_run=dry_run)
    return sorted(results, key=lambda r: r.row)  # the failed rows in the file's order


class _KeyTable:
    """The keys seen so far in the file, in a temporary table (dropped with the transaction):
    duplicates are found in one statement per chunk, and memory stays flat however many rows
    the file has."""

    def __init__(self, *, casefold: bool) -> None:
        self.casefold = casefold
        with connection.cursor() as cursor:
            # Dropped first: an import nested in an outer transaction (a test's) may leave it.
            cursor.execute("DROP TABLE IF EXISTS pg_temp.dataport_keys")
            cursor.execute(
                "CREATE TEMPORARY TABLE dataport_keys (key text PRIMARY KEY, row integer) "
                "ON COMMIT DROP"
            )

    def add(self, rows: list[tuple[int, str]]) -> dict[int, int]:
        """{row number: the row that had its key first} for each row whose key was seen."""
        firsts: dict[int, int] = {}
        unique: dict[str, int] = {}
        for number, key in rows:
            key = key.strip().lower() if self.casefold else key.strip()
            if not key:
                continue  # the resource says what is wrong with an empty key
            if key in unique:
                firsts[number] = unique[key]
            else:
                unique[key] = number
        if not unique:
            return firsts
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH added AS (INSERT INTO dataport_keys (key, row) "
                "SELECT * FROM unnest(%s::text[], %s::integer[]) ON CONFLICT (key) DO NOTHING "
                "RETURNING key) "
                "SELECT k.key, k.row FROM dataport_keys k "
                "WHERE k.key = ANY(%s::text[]) AND k.key NOT IN (SELECT key FROM added)",
                [list(unique), list(unique.values()), list(unique)],
            )
            for key, first in cursor.fetchall():
                firsts[unique[key]] = first
        return firsts


def _tally(
    outcome: _Outcome, shown: Counter[str], result: RowResult, failed_writer: Any,
    columns: list[str], row: dict[str, str],
) -> None:  # fmt: skip
    outcome.counts[result.action] += 1
    outcome.counts["rows"] += 1
    if result.action == "error":
        for column, message in result.errors:
            if len(outcome.errors) < ERRORS_SHOWN:
                outcome.errors.append({"row": result.row, "column": column, "message": message})
        words = "; ".join(f"{c}: {m}" if c else m for c, m in result.errors)
        failed_writer.writerow([cell_escape(row.get(c, "")) for c in columns[:-1]] + [words])
    if shown[result.action] < PREVIEW_PER_ACTION:
        shown[result.action] += 1
        outcome.preview.append({"row": result.row, "action": result.action, "key": result.key,
                                "changes": result.changes,
                                "errors": [list(e) for e in result.errors]})  # fmt: skip


def _record(run: ImportRun, outcome: _Outcome) -> ImportRun:
    run.counts = dict(outcome.counts)
    run.preview = sorted(outcome.preview, key=lambda p: p["row"])
    run.errors = outcome.errors
    run.message = outcome.message
    if outcome.errors_path is not None:
        try:
            with open(outcome.errors_path, "rb") as handle:
                run.errors_file = artifact_write(
                    tenant=run.tenant, kind=Artifact.Kind.IMPORT_ERRORS,
                    title=f"Failed rows of import {run.pk} ({run.resource})",
                    filename=f"{run.resource}-failed-rows-{run.pk}.csv", content=handle,
                    content_type="text/csv", requested_by=run.created_by,
                )  # fmt: skip
        finally:
            os.unlink(outcome.errors_path)
    run.save()
    return run


def import_template_csv(resource_name: str) -> bytes:
    """An empty file with the resource's header: what staff fill in."""
    out = io.StringIO()
    csv.writer(out).writerow(importable_get(resource_name).get_export_headers())
    return out.getvalue().encode()
