"""What a report shows, as plain data: the selectors (reports/selectors.py) fill these from the
ORM, the renderers (reports/render/) turn them into a PDF. Nothing here imports Django, so the
renderers are tested without a database and cannot reach one by accident.

Every time is timezone-aware; the renderers show it in `ReportMeta.zone` (the tenant's zone).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class ReportKind(enum.StrEnum):
    ACTIVITY = "activity"
    JOB_HISTORY = "job_history"
    ACCESS = "access"

    @property
    def label(self) -> str:
        return _TITLES[self]


_TITLES = {
    ReportKind.ACTIVITY: "Tenant activity",
    ReportKind.JOB_HISTORY: "Job history",
    ReportKind.ACCESS: "Access report",
}


@dataclass(frozen=True)
class Period:
    """Whole days in the tenant's zone, both ends included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after its start")

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class ReportMeta:
    """What every page carries: header (tenant, brand colour), footer (period, generation time
    in the tenant's zone) and the PDF's metadata."""

    kind: ReportKind
    tenant_name: str
    tenant_slug: str
    brand_color: str  # "#rrggbb"
    zone: str  # IANA name, the tenant's
    period: Period
    generated_at: dt.datetime
    author: str = "SaaS backoffice"


# --- Tenant activity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayJobs:
    day: dt.date
    by_state: dict[str, int]  # JobRun state → jobs queued that day

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass(frozen=True)
class Failure:
    at: dt.datetime
    task_name: str
    error_type: str
    error_message: str


@dataclass(frozen=True)
class DayAccess:
    day: dt.date
    signins: int
    active_sessions: int


@dataclass(frozen=True)
class ScheduleLine:
    name: str
    task: str
    schedule: str
    enabled: bool
    next_run_at: dt.datetime | None
    last_run_at: dt.datetime | None


@dataclass(frozen=True)
class BackupLine:
    """One backup of the period (reports.selectors.report_backups_select)."""

    at: dt.datetime
    size_bytes: int
    verified: bool
    name: str = ""


@dataclass(frozen=True)
class DownloadLine:
    """A completed download (reports.selectors.report_downloads_select)."""

    at: dt.datetime
    artifact_name: str
    who: str


@dataclass(frozen=True)
class ActivityReport:
    meta: ReportMeta
    jobs_by_day: list[DayJobs]
    failures: list[Failure]
    failures_total: int  # may exceed len(failures): the table shows the latest ones
    access_by_day: list[DayAccess]
    schedules: list[ScheduleLine]
    backups: list[BackupLine] = field(default_factory=list)
    downloads: list[DownloadLine] = field(default_factory=list)


# --- Job history ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobLine:
    queued_at: dt.datetime
    task_name: str
    state: str
    attempt: int
    duration_s: float | None
    summary: str


@dataclass(frozen=True)
class JobHistoryReport:
    """`rows` is consumed once, in order, by the renderer: the selector streams them from the
    database so that memory stays bounded at any size. `row_count` says how many will come."""

    meta: ReportMeta
    jobs_by_day: list[DayJobs]
    row_count: int
    rows: Iterable[JobLine]


# --- Access --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberLine:
    username: str
    full_name: str
    email: str
    role: str
    joined_at: dt.datetime
    last_signin_at: dt.datetime | None
    active_sessions: int


@dataclass(frozen=True)
class ShareLinkLine:
    """A share link of the tenant's files (reports.selectors.report_share_links_select)."""

    created_at: dt.datetime
    artifact_name: str
    created_by: str
    uses: int
    expires_at: dt.datetime | None
    revoked: bool


@dataclass(frozen=True)
class AccessReport:
    meta: ReportMeta
    members: list[MemberLine]
    share_links: list[ShareLinkLine] = field(default_factory=list)
