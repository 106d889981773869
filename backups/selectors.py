"""Reads of the backup registry for pages and alerts: the per-tenant overview (last backup, last
verified backup, failures, bytes kept) and the platform's figures. Each is a fixed number of
queries whatever the number of tenants or backups (correlated subqueries, no loop)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Aggregate, Count, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from artifacts.models import Artifact
from backups.models import Backup, BackupOverview
from tenants.models import Tenant

# "Flag tenants without a verified backup in 48 hours" (issue 13): the window, in one place.
VERIFIED_WITHIN = dt.timedelta(hours=48)
FAILURES_WITHIN = dt.timedelta(days=7)


def _per_tenant(rows: QuerySet[Backup], value: Aggregate) -> Subquery:
    return Subquery(
        rows.filter(tenant=OuterRef("pk")).values("tenant").annotate(v=value).values("v")
    )


def backup_overview_rows(
    queryset: QuerySet[BackupOverview] | None = None, *, now: dt.datetime | None = None
) -> QuerySet[BackupOverview]:
    """Every tenant with data (not provisioning, not deleted), annotated:
    last_backup_at, last_verified_at (when the newest verified backup was taken),
    failures (failed backups in the last 7 days), backup_bytes (archives kept)."""
    now = now or timezone.now()
    rows = queryset if queryset is not None else BackupOverview.objects.all()
    done = Backup.objects.filter(state=Backup.State.SUCCEEDED)
    return (
        rows.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .exclude(status__in=[Tenant.Status.PROVISIONING, Tenant.Status.DELETED])
        .annotate(
            last_backup_at=_per_tenant(done, Max("started_at")),
            last_verified_at=_per_tenant(
                done.filter(verification=Backup.Verification.PASSED), Max("started_at")
            ),
            failures=Coalesce(
                _per_tenant(
                    Backup.objects.filter(
                        state=Backup.State.FAILED, started_at__gte=now - FAILURES_WITHIN
                    ),
                    Count("id"),
                ),
                0,
            ),
            backup_bytes=Coalesce(
                _per_tenant(done.filter(artifact__deleted_at__isnull=True), Sum("artifact__size")),
                0,
            ),
        )
    )


def stale_q(now: dt.datetime) -> Q:
    """Tenants that should have a verified backup by now and have none that recent: active and
    older than the window (a tenant made an hour ago has had no night yet). Filters an
    overview queryset."""
    cutoff = now - VERIFIED_WITHIN
    return Q(status=Tenant.Status.ACTIVE, created_at__lt=cutoff) & (
        Q(last_verified_at__isnull=True) | Q(last_verified_at__lt=cutoff)
    )


@dataclass(frozen=True)
class BackupFigures:
    stale: int  # active tenants without a verified backup in 48 hours
    failed_24h: int
    running: int
    bytes_kept: int
    verified_24h: int


def backup_figures(*, now: dt.datetime | None = None) -> BackupFigures:
    now = now or timezone.now()
    day = now - dt.timedelta(hours=24)
    counts = Backup.objects.aggregate(
        failed=Count("id", filter=Q(state=Backup.State.FAILED, started_at__gte=day)),
        running=Count("id", filter=Q(state=Backup.State.RUNNING)),
        verified=Count(
            "id", filter=Q(verification=Backup.Verification.PASSED, verified_at__gte=day)
        ),
    )
    kept = Artifact.objects.filter(kind=Artifact.Kind.BACKUP, deleted_at__isnull=True).aggregate(
        n=Sum("size")
    )["n"]
    return BackupFigures(
        stale=backup_overview_rows(now=now).filter(stale_q(now)).count(),
        failed_24h=counts["failed"],
        running=counts["running"],
        bytes_kept=kept or 0,
        verified_24h=counts["verified"],
    )


def backup_previous(backup: Backup) -> Backup | None:
    """The tenant's succeeded backup before this one (for the size-drop alert)."""
    return (
        Backup.objects.filter(
            tenant_id=backup.tenant_id,
            state=Backup.State.SUCCEEDED,
            started_at__lt=backup.started_at,
        )
        .order_by("-started_at")
        .first()
    )
