"""Retention, grandfather-father-son: the only thing that deletes backups.

A tenant keeps, in its own time zone:
- every backup less than a day old (one asked for an hour ago is not deleted before anyone can
  fetch it, whatever else was made since);
- for each of the last `keep_daily` days, `keep_weekly` ISO weeks and `keep_monthly` months
  (the current one included), one backup: the newest verified one of that period, or the newest
  if none of it is verified;
- the newest verified backup, however old (a tenant always has one to restore);
- every backup under legal hold.
Everything else that still has its bytes is deleted (the artifact becomes a tombstone; the Backup
row stays, so the history shows what was made and when it went). Failed and running backups
hold no bytes and are not considered.

`retention_keep` is the rule, on plain values, so it is tested without a database;
`backups_retention_apply` reads a tenant's backups, applies it and deletes the rest.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from artifacts.services import artifact_bytes_delete
from backoffice.services import audit_record
from backups.models import Backup, BackupPolicy
from tenants.models import Tenant

GRACE = dt.timedelta(days=1)


@dataclass(frozen=True)
class Candidate:
    id: int
    made_at: dt.datetime  # aware
    verified: bool
    held: bool


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


def _newest_per_period(
    candidates: Iterable[Candidate],
    period_of: Callable[[dt.date], Hashable],
    periods: set[Hashable],
    tz: zoneinfo.ZoneInfo,
) -> set[int]:
    best: dict[Hashable, Candidate] = {}
    for c in candidates:
        period = period_of(c.made_at.astimezone(tz).date())
        if period not in periods:
            continue
        current = best.get(period)
        # Verified beats unverified; among equals, the newer one.
        if current is None or (c.verified, c.made_at) > (current.verified, current.made_at):
            best[period] = c
    return {c.id for c in best.values()}


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def retention_keep(
    candidates: list[Candidate], policy: Policy, *, now: dt.datetime, tz: zoneinfo.ZoneInfo
) -> set[int]:
    """The ids to keep, by the rule in this module's docstring."""
    today = now.astimezone(tz).date()
    keep = {c.id for c in candidates if c.held or now - c.made_at < GRACE}
    verified = [c for c in candidates if c.verified]
    if verified:
        keep.add(max(verified, key=lambda c: c.made_at).id)

    days: set[Hashable] = {today - dt.timedelta(days=i) for i in range(policy.daily)}
    keep |= _newest_per_period(candidates, lambda d: d, days, tz)

    def week_of(d: dt.date) -> dt.date:
        return d - dt.timedelta(days=d.weekday())  # the Monday of its ISO week

    this_week = week_of(today)
    weeks: set[Hashable] = {this_week - dt.timedelta(weeks=i) for i in range(policy.weekly)}
    keep |= _newest_per_period(candidates, week_of, weeks, tz)

    this_month = _month_index(today)
    months: set[Hashable] = {this_month - i for i in range(policy.monthly)}
    keep |= _newest_per_period(candidates, _month_index, months, tz)
    return keep


def backup_policy_of(tenant: Tenant) -> Policy:
    row = BackupPolicy.objects.filter(tenant=tenant).first()
    if row is None:
        return Policy()
    return Policy(daily=row.keep_daily, weekly=row.keep_weekly, monthly=row.keep_monthly)


def backups_retention_apply(*, tenant: Tenant, now: dt.datetime | None = None) -> list[int]:
    """Delete the bytes of every backup of `tenant` the rule does not keep; the ids deleted."""
    now = now or timezone.now()
    stored = list(
        Backup.objects.filter(
            tenant=tenant, state=Backup.State.SUCCEEDED, artifact__deleted_at__isnull=True
        ).select_related("artifact")
    )
    candidates = [
        Candidate(
            id=b.pk,
            made_at=b.started_at,
            verified=b.is_verified,
            held=bool(b.artifact and b.artifact.legal_hold),
        )
        for b in stored
    ]
    keep = retention_keep(
        candidates, backup_policy_of(tenant), now=now, tz=zoneinfo.ZoneInfo(tenant.timezone)
    )
    deleted = []
    for backup in stored:
        if backup.pk in keep or backup.artifact is None:
            continue
        with transaction.atomic():
            if artifact_bytes_delete(artifact=backup.artifact, reason="backup retention"):
                audit_record(
                    actor=None, action="backup.retention_delete", tenant=tenant, obj=backup,
                    detail={"started_at": backup.started_at.isoformat(), "kind": backup.kind},
                )  # fmt: skip
                deleted.append(backup.pk)
    return deleted
