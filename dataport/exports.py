"""Exports: one resource as a file (the admin's Export, streamed to the browser), and the
tenant data export (every resource, CSV and JSON, one zip with a manifest, kept as an artifact
of kind export, owners only).

Rows come from a server-side cursor (`iterator(chunk_size=…)`) and go out as they come, so
memory stays flat however long the history is. Exports of rows in the public schema (jobs,
audit, downloads) are filtered by the tenant by each resource, never by the schema the request
happens to be in."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from artifacts.models import Artifact
from artifacts.services import artifact_write
from dataport.formats import rows_write
from dataport.registry import DataResource, resources_all
from jobs.api import Progress
from tenants.models import Tenant

ITERATOR_CHUNK = 2000
STREAM_CHUNK = 64 * 1024


def resource_rows(resource: DataResource, *, tenant: Tenant) -> Iterator[list[Any]]:
    """Each row's values through the resource's fields: its `dehydrate_<field>` methods, else
    the field's attribute (`user__email` follows relations), as Python values. The writers
    format them (times in ISO 8601 with their offset); the widgets' rendering, per field and
    row, is skipped: it was three quarters of an export's time."""
    readers = [_reader(resource, field) for field in resource.get_export_fields()]  # type: ignore[attr-defined]
    rows = resource.export_rows(tenant=tenant)
    if isinstance(rows, QuerySet):
        rows = rows.iterator(chunk_size=ITERATOR_CHUNK)
    for instance in rows:
        yield [read(instance) for read in readers]


def _reader(resource: Any, field: Any) -> Any:
    method = field.get_dehydrate_method(resource.get_field_name(field))
    dehydrate = method if callable(method) else getattr(resource, method, None)
    return dehydrate if dehydrate is not None else field.get_value


def resource_export(resource: DataResource, *, tenant: Tenant, fmt: str, out: IO[bytes]) -> int:
    """Write one resource of `tenant` to `out`; returns the number of rows."""
    return rows_write(
        out, fmt, resource.get_export_headers(), resource_rows(resource, tenant=tenant)
    )


def resource_export_chunks(resource: DataResource, *, tenant: Tenant, fmt: str) -> Iterator[bytes]:
    """The export as bytes, for a streamed response: written to a temporary file first (XLSX
    must be finished before its first byte is valid, and a database error then is a clear
    error page, not half a file), then read back in chunks."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115  (closed by the generator, or on error)
    try:
        resource_export(resource, tenant=tenant, fmt=fmt, out=handle)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(STREAM_CHUNK):
                yield chunk

    return chunks()


def tenant_export(
    *, tenant: Tenant, requested_by: User | None, job_task_id: str = "",
    progress: Progress | None = None, now: dt.datetime | None = None,
) -> Artifact:  # fmt: skip
    """Every exportable resource of the tenant in one zip (`<name>.csv`, `<name>.json`, and
    `manifest.json`: the tenant, the time, each file's rows, size and sha256), stored as an
    artifact of kind export (owners only)."""
    now = now or timezone.now()
    resources = resources_all()
    manifest: dict[str, Any] = {
        "tenant": {"slug": tenant.slug, "name": tenant.name, "timezone": tenant.timezone},
        "created_at": now.isoformat(), "format_version": 1, "files": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as workdir:
        archive_path = os.path.join(workdir, "export.zip")
        with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for i, resource in enumerate(resources):
                if progress is not None:
                    progress(i, len(resources), resource.resource_name)
                for fmt in ("csv", "json"):
                    part = os.path.join(workdir, f"part.{fmt}")
                    with open(part, "wb") as out:
                        count = resource_export(resource, tenant=tenant, fmt=fmt, out=out)
                    name = f"{resource.resource_name}.{fmt}"
                    archive.write(part, name)
                    manifest["files"].append({
                        "name": name, "resource": resource.resource_name,
                        "title": resource.resource_title, "rows": count,
                        "size": os.path.getsize(part), "sha256": _sha256(part),
                    })  # fmt: skip
                    os.unlink(part)
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        if progress is not None:
            progress(len(resources), len(resources), "stored")
        with open(archive_path, "rb") as handle:
            return artifact_write(
                tenant=tenant, kind=Artifact.Kind.EXPORT,
                title=f"Data export of {tenant.name}",
                filename=f"{tenant.slug}-data-export-{now.astimezone(ZoneInfo(tenant.timezone)):%Y%m%d-%H%M}.zip",
                content=handle,
                content_type="application/zip", audience=Artifact.Audience.OWNERS,
                requested_by=requested_by, job_task_id=job_task_id,
            )  # fmt: skip


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
