"""Making a report: select (ORM → reports.data) → render (data → PDF) → store.

    report_generate(tenant=…, kind=ReportKind.ACTIVITY, period=…, progress=…)

`report_store` is where the file goes once rendered: it streams the PDF into the artifact store
(an Artifact of kind "report", checksummed and counted against the tenant's quota) and removes
the temporary file. A job that runs twice finds its artifact and makes no second one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from artifacts.models import Artifact
from artifacts.services import artifact_write
from reports.data import AccessReport, ActivityReport, JobHistoryReport, Period, ReportKind
from reports.selectors import (
    report_access_select,
    report_activity_select,
    report_job_history_select,
)
from tenants.models import Membership, Tenant

if TYPE_CHECKING:
    from reports.render.base import Progress

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
    artifact_id: int | None = None  # once stored (the temporary file at `path` is gone then)


# Who may download each kind from the portal: the kind's default (all members), but the access
# report (every member's sign-ins) is for owners only, like KINDS_FOR_ROLE.
AUDIENCE: dict[ReportKind, str | None] = {
    ReportKind.ACTIVITY: None,
    ReportKind.JOB_HISTORY: None,
    ReportKind.ACCESS: Artifact.Audience.OWNERS,
}


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
    # reportlab (about 17 MB) is loaded by the first report a process makes, not by every
    # process that imports this module (the admin, the portal, every worker, backups).
    from reports.render.access import access_render
    from reports.render.activity import activity_render
    from reports.render.history import history_render

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
    job_task_id: str = "",
    requested_by: User | None = None,
    now: dt.datetime | None = None,
) -> ReportFile:
    """Select, render and store one report. Runs in the tenant's schema (the report task).
    `now`: the report's "as of" and generation time (default: the clock; tests pin it)."""
    done = report_stored_for_job(tenant=tenant, kind=kind, period=period, job_task_id=job_task_id)
    if done is not None:  # a second run of the same job (redelivered): its file is stored
        return done
    data: ActivityReport | JobHistoryReport | AccessReport
    if kind is ReportKind.ACTIVITY:
        data = report_activity_select(tenant, period, now)
    elif kind is ReportKind.JOB_HISTORY:
        data = report_job_history_select(tenant, period, now)
    else:
        data = report_access_select(tenant, period, now)
    fd, path = tempfile.mkstemp(prefix=f"report-{tenant.slug}-{kind.value}-", suffix=".pdf")
    os.close(fd)
    try:
        pages = report_render(data=data, out=path, progress=progress)
        report = ReportFile(
            kind=kind, filename=f"{tenant.slug}-{kind.value}-{period.start}-{period.end}.pdf",
            path=path, size=os.path.getsize(path), sha256=_sha256(path), pages=pages,
            period_start=period.start.isoformat(), period_end=period.end.isoformat(),
        )  # fmt: skip
        return report_store(
            tenant=tenant, report=report, job_task_id=job_task_id, requested_by=requested_by
        )
    finally:
        os.unlink(path)


def report_title(*, kind: ReportKind, period: Period) -> str:
    return f"{kind.label}, {period.start:%-d %b %Y} to {period.end:%-d %b %Y}"


def report_store(
    *,
    tenant: Tenant,
    report: ReportFile,
    job_task_id: str = "",
    requested_by: User | None = None,
) -> ReportFile:
    """Write the rendered PDF as an Artifact of kind report (streamed from the temporary file,
    checksummed on the way) for `tenant`, linked to the job and whoever asked for it. Telling
    the recipients is a job of its own (reports.tasks.report_deliver_task): a mail server that
    is away must not fail, nor make anyone redo, the report."""
    period = Period(dt.date.fromisoformat(report.period_start),
                    dt.date.fromisoformat(report.period_end))  # fmt: skip
    title = report_title(kind=report.kind, period=period)
    with open(report.path, "rb") as pdf:
        artifact = artifact_write(
            tenant=tenant, kind=Artifact.Kind.REPORT, title=title, filename=report.filename,
            content=pdf, content_type="application/pdf", audience=AUDIENCE[report.kind],
            requested_by=requested_by, job_task_id=job_task_id,
        )  # fmt: skip
    if artifact.sha256 != report.sha256:
        raise OSError(f"{report.filename} changed while it was stored")
    return replace(report, path="", artifact_id=artifact.pk)


def report_stored_for_job(
    *, tenant: Tenant, kind: ReportKind, period: Period, job_task_id: str
) -> ReportFile | None:
    """The report a job already stored (the job ran before and was delivered again), if any."""
    if not job_task_id:
        return None
    artifact = (
        Artifact.objects.filter(tenant=tenant, kind=Artifact.Kind.REPORT, job_task_id=job_task_id)
        .order_by("pk")
        .first()
    )
    if artifact is None:
        return None
    return ReportFile(
        kind=kind, filename=artifact.filename, path="", size=artifact.size,
        sha256=artifact.sha256, pages=0, period_start=period.start.isoformat(),
        period_end=period.end.isoformat(), artifact_id=artifact.pk,
    )  # fmt: skip


def report_summary(report: ReportFile) -> dict[str, object]:
    """What the JobRun's result shows."""
    return {**asdict(report), "kind": report.kind.value}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
