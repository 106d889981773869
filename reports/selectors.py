"""Reads for the reports: the ORM in, reports.data out. Called in the tenant's schema (the
report task runs there): sessions are read from it; JobRun, ScheduleSummary and Membership live
in public and are filtered by the tenant explicitly, never by the schema alone.

Sign-ins come from the tenant's session rows: a session is issued at each sign-in on the
tenant's domain (`Session.created_at`), which gives one row per sign-in with its time. The
alternatives say less: `Membership.last_signin_at` keeps only the latest sign-in of each member,
and AuditEntry records staff actions, not portal sign-ins. What the rows cannot tell: sessions
already deleted (expired ones are cleaned up nightly, ended ones at once) are not counted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from artifacts.models import Artifact, DownloadEvent, ShareLink
from backups.models import Backup
from beat.models import ScheduleSummary
from jobs.models import JobRun
from reports.data import (
    AccessReport,
    ActivityReport,
    BackupLine,
    DayAccess,
    DayJobs,
    DownloadLine,
    Failure,
    JobHistoryReport,
    JobLine,
    MemberLine,
    Period,
    ReportKind,
    ReportMeta,
    ScheduleLine,
    ShareLinkLine,
)
from tenants.context import connection_schema
from tenants.models import Membership, Tenant
from usersessions.models import Session

FAILED_STATES = ("failed", "lost")
FAILURES_KEPT = 200
STREAM_CHUNK = 2000


def period_bounds(tenant: Tenant, period: Period) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the period's whole days in the tenant's zone, as aware datetimes."""
    zone = ZoneInfo(tenant.timezone)
    start = dt.datetime.combine(period.start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _in_schema_of(tenant: Tenant) -> None:
    # Session rows are read from the connection's schema: in any other schema they would be
    # another tenant's (or public's staff sessions). Fail loudly rather than mix them.
    if connection_schema() != tenant.schema_name:
        raise RuntimeError(
            f"report of {tenant.slug} read in schema {connection_schema()!r}, not its own"
        )


def report_meta_select(
    tenant: Tenant, kind: ReportKind, period: Period, now: dt.datetime | None = None
) -> ReportMeta:
    return ReportMeta(
        kind=kind, tenant_name=tenant.name, tenant_slug=tenant.slug,
        brand_color=tenant.brand_color, zone=tenant.timezone, period=period,
        generated_at=now or timezone.now(),
    )  # fmt: skip


def _jobs(tenant: Tenant, period: Period) -> QuerySet[JobRun]:
    start, end = period_bounds(tenant, period)
    # tenant_slug with queued_at: the jobrun_tenant_queued index.
    return JobRun.objects.filter(tenant_slug=tenant.slug, queued_at__gte=start, queued_at__lt=end)


def report_jobs_by_day_select(tenant: Tenant, period: Period) -> list[DayJobs]:
    counts: dict[dt.date, dict[str, int]] = defaultdict(dict)
    rows = (
        _jobs(tenant, period)
        .annotate(day=TruncDate("queued_at", tzinfo=ZoneInfo(tenant.timezone)))
        .values_list("day", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for day, state, n in rows:
        counts[day][state] = n
    return [DayJobs(day=day, by_state=counts.get(day, {})) for day in period.days]


def report_failures_select(tenant: Tenant, period: Period) -> tuple[list[Failure], int]:
    failed = _jobs(tenant, period).filter(state__in=FAILED_STATES)
    latest = failed.order_by("-queued_at", "-id").values_list(
        "queued_at", "finished_at", "task_name", "error_type", "error_message"
    )[:FAILURES_KEPT]
    failures = [
        Failure(at=finished or queued, task_name=name, error_type=etype or "lost",
                error_message=message)
        for queued, finished, name, etype, message in latest
    ]  # fmt: skip
    return failures, failed.count()


def report_access_by_day_select(tenant: Tenant, period: Period) -> list[DayAccess]:
    """Sign-ins (sessions issued to a member) and sessions active on each day, from the
    tenant's session rows: the connection must be in the tenant's schema."""
    _in_schema_of(tenant)
    zone = ZoneInfo(tenant.timezone)
    start, end = period_bounds(tenant, period)
    sessions = Session.objects.filter(
        user_id__isnull=False, created_at__lt=end, expire_date__gt=start
    ).values_list("created_at", "expire_date")
    signins: dict[dt.date, int] = defaultdict(int)
    spans = []
    for created, expires in sessions.iterator(chunk_size=STREAM_CHUNK):
        if created >= start:
            signins[created.astimezone(zone).date()] += 1
        spans.append((created, expires))
    days = []
    for day in period.days:
        day_start, day_end = period_bounds(tenant, Period(day, day))
        active = sum(1 for created, expires in spans if created < day_end and expires > day_start)
        days.append(DayAccess(day=day, signins=signins.get(day, 0), active_sessions=active))
    return days


def report_schedules_select(tenant: Tenant) -> list[ScheduleLine]:
    rows = ScheduleSummary.objects.filter(tenant=tenant).order_by("name")
    return [
        ScheduleLine(name=r.name, task=r.task, schedule=r.schedule, enabled=r.enabled,
                     next_run_at=r.next_run_at, last_run_at=r.last_run_at)
        for r in rows
    ]  # fmt: skip


def report_backups_select(tenant: Tenant, period: Period) -> list[BackupLine]:
    """The tenant's backups made in the period (succeeded ones: a size to chart), oldest
    first; failures are in the failures section with their job."""
    start, end = period_bounds(tenant, period)
    rows = Backup.objects.filter(
        tenant=tenant, state=Backup.State.SUCCEEDED, started_at__gte=start, started_at__lt=end
    ).order_by("started_at", "id")[:LIST_LIMIT]
    return [
        BackupLine(at=b.started_at, size_bytes=b.size or 0, verified=b.is_verified,
                   name=f"{b.get_kind_display()}{', encrypted' if b.encrypted else ''}")
        for b in rows
    ]  # fmt: skip


# At most this many lines of each list in a report (the download audit keeps every row).
LIST_LIMIT = 200


def report_downloads_select(tenant: Tenant, period: Period) -> list[DownloadLine]:
    """The tenant's completed downloads in the period, newest first (its download audit, which
    lives in public and is filtered by the tenant, never by the schema in use). Only files every
    member may see: the activity report goes to all members, and an owners-only file's name is
    not theirs to read."""
    start, end = period_bounds(tenant, period)
    events = (
        DownloadEvent.objects.filter(tenant_id=tenant.pk, at__gte=start, at__lt=end,
                                     outcome__in=["sent", "handed_off"],
                                     artifact__audience=Artifact.Audience.MEMBERS)
        .select_related("artifact", "share_link")
        .order_by("-at")[:LIST_LIMIT]
    )  # fmt: skip
    return [
        DownloadLine(
            at=event.at,
            artifact_name=event.artifact.filename if event.artifact else event.requested,
            who=event.username or ("a share link" if event.share_link_id else "—"),
        )
        for event in events
    ]


def report_share_links_select(tenant: Tenant, period: Period) -> list[ShareLinkLine]:
    """Share links of the tenant's files made in the period, or still alive in it."""
    start, end = period_bounds(tenant, period)
    links = (
        ShareLink.objects.filter(artifact__tenant_id=tenant.pk, created_at__lt=end)
        .filter(Q(created_at__gte=start) | Q(expires_at__gte=start))
        .select_related("artifact", "created_by")
        .order_by("-created_at")[:LIST_LIMIT]
    )
    return [
        ShareLinkLine(
            created_at=link.created_at, artifact_name=link.artifact.filename,
            created_by=link.created_by.username if link.created_by else "—", uses=link.uses,
            expires_at=link.expires_at, revoked=link.revoked_at is not None,
        )
        for link in links
    ]  # fmt: skip


def report_activity_select(
    tenant: Tenant, period: Period, now: dt.datetime | None = None
) -> ActivityReport:
    failures, failures_total = report_failures_select(tenant, period)
    return ActivityReport(
        meta=report_meta_select(tenant, ReportKind.ACTIVITY, period, now),
        jobs_by_day=report_jobs_by_day_select(tenant, period),
        failures=failures,
        failures_total=failures_total,
        access_by_day=report_access_by_day_select(tenant, period),
        schedules=report_schedules_select(tenant),
        backups=report_backups_select(tenant, period),
        downloads=report_downloads_select(tenant, period),
    )


def report_job_history_select(
    tenant: Tenant, period: Period, now: dt.datetime | None = None
) -> JobHistoryReport:
    """The rows are streamed (a server-side cursor, chunk by chunk) as the renderer asks."""
    jobs = _jobs(tenant, period)
    return JobHistoryReport(
        meta=report_meta_select(tenant, ReportKind.JOB_HISTORY, period, now),
        jobs_by_day=report_jobs_by_day_select(tenant, period),
        row_count=jobs.count(),
        rows=_job_lines(jobs),
    )


def _job_lines(jobs: QuerySet[JobRun]) -> Iterator[JobLine]:
    rows = jobs.order_by("queued_at", "id").values_list(
        "queued_at", "task_name", "state", "attempt", "started_at", "finished_at", "summary"
    )
    for queued, name, state, attempt, started, finished, summary in rows.iterator(
        chunk_size=STREAM_CHUNK
    ):
        duration = (finished - started).total_seconds() if started and finished else None
        yield JobLine(queued_at=queued, task_name=name, state=state, attempt=attempt,
                      duration_s=duration, summary=summary)  # fmt: skip


def report_access_select(
    tenant: Tenant, period: Period, now: dt.datetime | None = None
) -> AccessReport:
    """Members of the tenant with their role, last sign-in here and live sessions here."""
    _in_schema_of(tenant)
    members = list(
        Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")
    )
    live = dict(
        Session.objects.filter(
            user_id__in=[m.user_id for m in members], expire_date__gt=now or timezone.now()
        )
        .values_list("user_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    lines = [
        MemberLine(
            username=m.user.username,
            full_name=m.user.get_full_name(),
            email=m.user.email,
            role=m.role,
            joined_at=m.created_at,
            last_signin_at=m.last_signin_at,
            active_sessions=live.get(m.user_id, 0),
        )
        for m in members
    ]
    return AccessReport(
        meta=report_meta_select(tenant, ReportKind.ACCESS, period, now),
        members=lines,
        share_links=report_share_links_select(tenant, period),
    )
