"""Making a report: select (ORM → reports.data) → render (data → PDF) → store.

    report_generate(tenant=…, kind=ReportKind.ACTIVITY, period=…, progress=…)

`report_store` is where the file goes once rendered. Until the artifacts issue lands it leaves
the PDF in a temporary file and describes it; then it writes the Artifact (kind "report") and
the file to the artifact store instead, and nothing before it changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from reports.data import AccessReport, ActivityReport, JobHistoryReport, Period, ReportKind
from reports.render.access import access_render
from reports.render.activity import activity_render
from reports.render.base import Progress
from reports.render.history import history_render
from reports.selectors import (
    report_access_select,
    report_activity_select,
    report_job_history_select,
)
from tenants.models import Membership, Tenant

# Who may have which report made from the portal (staff may have any): the access report names
# every member and their sign-ins, which is for owners only.
KINDS_FOR_ROLE: dict[str, frozenset[ReportKind]] = {
    Membership.Role.OWNER: frozenset(ReportKind),
    Membership.Role.MEMBER: frozenset({ReportKind.ACTIVITY, ReportKind.JOB_HISTORY}),
}


@dataclass(frozen=True)
class ReportFile:
    kind: ReportKind
    filename: str  # what a download would be called
    path: str
    size: int
    sha256: str
    pages: int
    period_start: str
    period_end: str


def report_allowed(*, kind: ReportKind, role: str) -> bool:
    return kind in KINDS_FOR_ROLE.get(role, frozenset())


def report_period_last_week(*, tenant: Tenant, now: dt.datetime | None = None) -> Period:
    """Monday to Sunday of the last whole week in the tenant's zone (the weekly schedule's)."""
    today = (now or timezone.now()).astimezone(ZoneInfo(tenant.timezone)).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    return Period(this_monday - dt.timedelta(days=7), this_monday - dt.timedelta(days=1))


def report_render(
    *,
    data: ActivityReport | JobHistoryReport | AccessReport,
    out: str,
    progress: Progress | None = None,
) -> int:
    """Render to the file `out`; returns the page count."""
    if isinstance(data, ActivityReport):
        return activity_render(data, out)
    if isinstance(data, JobHistoryReport):
        return history_render(data, out, progress=progress)
    return access_render(data, out)


def report_generate(
    *,
    tenant: Tenant,
    kind: ReportKind,
    period: Period,
    progress: Progress | None = None,
) -> ReportFile:
    """Select, render and store one report. Runs in the tenant's schema (the report task)."""
    data: ActivityReport | JobHistoryReport | AccessReport
    if kind is ReportKind.ACTIVITY:
        data = report_activity_select(tenant, period)
    elif kind is ReportKind.JOB_HISTORY:
        data = report_job_history_select(tenant, period)
    else:
        data = report_access_select(tenant, period)
    fd, path = tempfile.mkstemp(prefix=f"report-{tenant.slug}-{kind.value}-", suffix=".pdf")
    os.close(fd)
    try:
        pages = report_render(data=data, out=path, progress=progress)
    except BaseException:
        os.unlink(path)
        raise
    report = ReportFile(
        kind=kind, filename=f"{tenant.slug}-{kind.value}-{period.start}-{period.end}.pdf",
        path=path, size=os.path.getsize(path), sha256=_sha256(path), pages=pages,
        period_start=period.start.isoformat(), period_end=period.end.isoformat(),
    )  # fmt: skip
    return report_store(tenant=tenant, report=report)


def report_store(*, tenant: Tenant, report: ReportFile) -> ReportFile:
    """Seam for the artifacts issue: write the Artifact (kind "report", checksum, the period,
    the tenant) and move the file into the artifact store, then return what the job records.
    Today the PDF stays in its temporary file on the worker."""
    return report


def report_summary(report: ReportFile) -> dict[str, object]:
    """What the JobRun's result shows."""
    return {**asdict(report), "kind": report.kind.value}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
