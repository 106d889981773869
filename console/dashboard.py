"""The platform admin's index (the dashboard) and the Operations page: pages that read across
apps, so they live here. Every figure links to the list behind it. The queries are aggregates
over public tables, so their number does not grow with the number of tenants (tested)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from artifacts.models import Artifact
from backoffice.models import AuditEntry
from backoffice.sites import staff_site
from backups.selectors import backup_figures
from beat.leadership import beat_heartbeat, beat_leader
from beat.models import ScheduleSummary
from console.alerts import alerts_open
from console.operations import operations_snapshot, queue_depths, workers_alive
from console.queue_history import DepthSample, queue_depths_history
from jobs.models import JobRun
from saas.health import beat_report
from tenants.models import Membership, Tenant
from usersessions.models import Session
from usersessions.selectors import session_active_q, session_max_age_current

# Chart colours: Tailwind's green, red, amber and indigo (the theme's own palette).
GREEN, RED, AMBER, INDIGO = "#16a34a", "#dc2626", "#d97706", "#6366f1"
BAD_STATES = ("failed", "lost")


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    href: str
    tone: str = ""  # "", "good", "bad", "warn"


@dataclass(frozen=True)
class Activity:
    """One line of "recent activity": an audit entry in words (its action and object type as
    people say them, backoffice.audit_words)."""

    at: datetime
    actor_username: str
    action: str
    tenant_slug: str
    object_type: str
    object_repr: str


def recent_activity(limit: int = 10) -> list[Activity]:
    entries = AuditEntry.objects.order_by("-at", "-id")[:limit]
    return [
        Activity(at=e.at, actor_username=e.actor_username or "system", action=e.action_words,
                 tenant_slug=e.tenant_slug, object_type=e.object_type_words,
                 object_repr=f"{e.object_type_words} {e.object_repr}".strip())
        for e in entries
    ]  # fmt: skip


def _changelist(name: str, **query: Any) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


def tenant_figures() -> list[Figure]:
    counts = dict(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    tones = {"active": "good", "suspended": "warn", "archived": "", "provisioning": "warn"}
    return [
        Figure(str(label), counts.get(value, 0),
               _changelist("tenants_tenant", status__exact=value), tones.get(value, ""))
        for value, label in Tenant.Status.choices
    ]  # fmt: skip


def job_figures(since: datetime) -> list[Figure]:
    counts = dict(
        JobRun.objects.filter(queued_at__gte=since)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    after = since.isoformat(timespec="seconds")
    return [
        Figure(str(label), counts.get(value, 0),
               _changelist("jobs_jobrun", state__exact=value, queued_at__gte=after),
               "bad" if value in BAD_STATES else "good" if value == "succeeded" else "")
        for value, label in JobRun.State.choices
    ]  # fmt: skip


def jobs_by_hour_chart(now: datetime, days: int = 7) -> str:
    """Jobs queued per hour over `days`, stacked: succeeded, failed or lost, the rest."""
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    rows = (
        JobRun.objects.filter(queued_at__gte=start)
        .annotate(hour=TruncHour("queued_at"))
        .values_list("hour", "state")
        .annotate(n=Count("id"))
    )
    hours = [start + timedelta(hours=i) for i in range(days * 24 + 1)]
    index = {hour: i for i, hour in enumerate(hours)}
    series = {"succeeded": [0] * len(hours), "failed": [0] * len(hours), "other": [0] * len(hours)}
    for hour, state, n in rows:
        i = index.get(hour)
        if i is None:
            continue
        key = "succeeded" if state == "succeeded" else "failed" if state in BAD_STATES else "other"
        series[key][i] += n
    return json.dumps({
        "labels": [h.strftime("%a %H:00") for h in hours],
        "datasets": [
            {"label": "Succeeded", "data": series["succeeded"], "backgroundColor": GREEN,
             "stack": "jobs", "maxTicksXLimit": 8, "displayYAxis": True},
            {"label": "Failed or lost", "data": series["failed"], "backgroundColor": RED,
             "stack": "jobs"},
            {"label": "Other", "data": series["other"], "backgroundColor": INDIGO,
             "stack": "jobs"},
        ],
    })  # fmt: skip


def queue_history_chart(samples: list[DepthSample]) -> str:
    names = sorted({name for sample in samples for name in sample.depths})
    colours = [INDIGO, AMBER, GREEN, RED]
    return json.dumps({
        "labels": [datetime.fromtimestamp(s.at, tz=UTC).strftime("%H:%M")
                   for s in samples],
        "datasets": [
            {"label": name, "data": [s.depths.get(name, 0) for s in samples],
             "borderColor": colours[i % len(colours)], "maxTicksXLimit": 6, "displayYAxis": True}
            for i, name in enumerate(names)
        ],
    })  # fmt: skip


def beat_status() -> dict[str, Any]:
    """/healthz's beat report (age, stale by the same threshold), with who leads."""
    return {**beat_report(beat_heartbeat()), "leader": beat_leader()}


@dataclass(frozen=True)
class TenantStorage:
    slug: str
    used: int
    href: str


def storage_summary(top: int = 5) -> dict[str, Any]:
    """Bytes stored, the tenants using most, and files flagged by serving or the scrub: two
    aggregate queries whatever the number of tenants or files."""
    stored = Artifact.objects.filter(deleted_at__isnull=True)
    totals = stored.aggregate(total=Sum("size"), count=Count("id"),
                              problems=Count("id", filter=~Q(problem="")))  # fmt: skip
    rows = (
        stored.values_list("tenant_id", "tenant__slug")
        .annotate(used=Sum("size"))
        .order_by("-used")[:top]
    )
    return {
        "total": totals["total"] or 0,
        "count": totals["count"],
        "problems": totals["problems"],
        "problems_href": _changelist("artifacts_artifact", state="problem"),
        "top": [
            TenantStorage(slug, used, _changelist("artifacts_artifact", tenant__id__exact=pk))
            for pk, slug, used in rows
        ],
    }


def backup_summary(now: datetime) -> dict[str, Any]:
    figures = backup_figures(now=now)
    return {
        **figures.__dict__,
        "stale_href": _changelist("backups_backupoverview", verified="stale"),
        "failed_href": _changelist(
            "backups_backup", state__exact="failed",
            started_at__gte=(now - timedelta(hours=24)).isoformat(timespec="seconds"),
        ),
    }  # fmt: skip


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    since = now - timedelta(hours=24)
    samples = queue_depths_history()
    return {
        "title": "Platform dashboard",  # the page's header and <title>
        "tenant_figures": tenant_figures(),
        "job_figures": job_figures(since),
        "jobs_chart": jobs_by_hour_chart(now),
        "failing": JobRun.objects.filter(state__in=BAD_STATES, finished_at__gte=since).order_by(
            "-finished_at"
        )[:8],
        "failing_href": _changelist("jobs_jobrun", state__in=",".join(BAD_STATES)),
        "queues": queue_depths(),
        "queue_samples": len(samples),
        "queue_chart": queue_history_chart(samples),
        "workers": workers_alive(),
        "beat": beat_status(),
        "next_runs": ScheduleSummary.objects.filter(enabled=True, next_run_at__isnull=False)
        .select_related("tenant")
        .order_by("next_run_at")[:8],
        "recent_audit": recent_activity(8),
        "alerts": alerts_open(),
        "storage": storage_summary(),
        "backups": backup_summary(now),
    }


def tenant_dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """The tenant admin's index: this tenant's jobs, next runs (in its zone) and sessions. Every
    query is filtered by the tenant (or runs in its schema), so none grows with other tenants."""
    tenant: Tenant = request.admin_tenant  # type: ignore[attr-defined]
    now = timezone.now()
    since = now - timedelta(days=7)
    counts = dict(
        JobRun.objects.filter(tenant_id=tenant.pk, queued_at__gte=since)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    jobs_list = reverse("admin:jobs_jobrun_changelist")
    job_figures = [
        Figure(str(label), counts.get(value, 0),
               f"{jobs_list}?{urlencode({'tenant__id__exact': tenant.pk, 'state__exact': value})}",
               "bad" if value in BAD_STATES else "good" if value == "succeeded" else "")
        for value, label in JobRun.State.choices
    ]  # fmt: skip
    return {
        "title": f"{tenant.name}: dashboard",  # the page's header and <title>
        "tenant": tenant,
        "job_figures": job_figures,
        "jobs_href": f"{jobs_list}?{urlencode({'tenant__id__exact': tenant.pk})}",
        # (run, its page): reversed here, on the platform admin (a template in the tenant admin
        # would reverse "admin:" against the tenant site, which has no job history)
        "recent_jobs": [
            (run, reverse("admin:jobs_jobrun_change", args=[run.pk]))
            for run in JobRun.objects.filter(tenant_id=tenant.pk).order_by("-queued_at")[:10]
        ],
        "next_runs": ScheduleSummary.objects.filter(
            tenant_id=tenant.pk, enabled=True, next_run_at__isnull=False
        ).order_by("next_run_at")[:8],
        # The connection is in the tenant's schema here (console.tenant_scope).
        "active_sessions": Session.objects.filter(
            session_active_q(now=now, max_age=session_max_age_current())
        ).count(),
        "members": Membership.objects.filter(tenant_id=tenant.pk).count(),
        "files": Artifact.objects.filter(tenant_id=tenant.pk, deleted_at__isnull=True).aggregate(
            count=Count("id"), bytes=Sum("size")
        ),
        "reports": [
            (report, reverse("admin:artifacts_artifact_change", args=[report.pk]))
            for report in Artifact.objects.filter(
                tenant_id=tenant.pk, kind=Artifact.Kind.REPORT, deleted_at__isnull=True
            ).order_by("-created_at")[:5]
        ],
        "tenant_page": reverse("admin:tenants_tenant_change", args=[tenant.pk]),
    }


def operations_view(request: HttpRequest) -> TemplateResponse:
    """Queues, workers, beat and failing jobs: what Flower would show, inside the admin."""
    context = {
        **staff_site.each_context(request),
        "title": "Operations",
        "ops": operations_snapshot(),
        "alerts": alerts_open(),
    }
    return TemplateResponse(request, "admin/console/operations.html", context)
