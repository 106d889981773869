"""The retention rule (grandfather-father-son), on plain values and then on stored backups."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest

from artifacts.models import Artifact
from backoffice.models import AuditEntry
from backups.models import Backup, BackupPolicy
from backups.retention import Candidate, Policy, backups_retention_apply, retention_keep
from tests.helpers import artifact_make

UTC = dt.UTC
TZ = zoneinfo.ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday


def nightly(days: int, *, verified_every: int = 1) -> list[Candidate]:
    """One backup a night at 02:00 Paris time for `days` nights before NOW, newest first."""
    out = []
    for i in range(days):
        day = NOW.astimezone(TZ).date() - dt.timedelta(days=i)
        made = dt.datetime.combine(day, dt.time(2, 0), tzinfo=TZ).astimezone(UTC)
        out.append(Candidate(id=i, made_at=made, verified=i % verified_every == 0, held=False))
    return out


def days_kept(keep: set[int], candidates: list[Candidate]) -> list[str]:
    by_id = {c.id: c for c in candidates}
    return sorted(by_id[i].made_at.astimezone(TZ).date().isoformat() for i in keep)


def test_a_year_of_nightly_backups_keeps_7_days_4_weeks_and_12_months() -> None:
    candidates = nightly(400)
    keep = retention_keep(candidates, Policy(7, 4, 12), now=NOW, tz=TZ)
    kept = days_kept(keep, candidates)
    # Days: 24-30 Nov. Weeks (the newest of each ISO week): this week's is today's (30 Nov, a
    # Monday), then 29, 22 and 15 Nov (Sundays). Months: the newest of Nov (30th) and the last
    # day of each of the 11 months before.
    days = [f"2026-11-{d}" for d in range(24, 31)]
    weeks = ["2026-11-15", "2026-11-22"]
    months = ["2025-12-31", "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30",
              "2026-05-31", "2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30",
              "2026-10-31"]  # fmt: skip
    assert kept == sorted(days + weeks + months)


def test_a_verified_backup_is_kept_over_a_newer_unverified_one_of_its_period() -> None:
    candidates = nightly(60, verified_every=7)  # verified: today, 7, 14… days ago
    keep = retention_keep(candidates, Policy(daily=0, weekly=0, monthly=2), now=NOW, tz=TZ)
    # November's newest verified is today's; October's is the one of 26 Oct (35 days ago),
    # not the unverified 31 Oct.
    assert days_kept(keep, candidates) == ["2026-10-26", "2026-11-30"]


def test_the_last_verified_backup_and_held_ones_survive_a_policy_of_nothing() -> None:
    old = NOW - dt.timedelta(days=400)
    candidates = [
        Candidate(id=1, made_at=old, verified=True, held=False),
        Candidate(id=2, made_at=old - dt.timedelta(days=1), verified=True, held=False),
        Candidate(id=3, made_at=old - dt.timedelta(days=50), verified=False, held=True),
        Candidate(id=4, made_at=NOW - dt.timedelta(days=3), verified=False, held=False),
    ]
    keep = retention_keep(candidates, Policy(daily=0, weekly=0, monthly=0), now=NOW, tz=TZ)
    assert keep == {1, 3}


def test_every_backup_younger_than_a_day_is_kept_even_beyond_one_per_day() -> None:
    candidates = [
        Candidate(id=i, made_at=NOW - dt.timedelta(hours=i * 5), verified=False, held=False)
        for i in range(6)  # 0, 5, 10, 15, 20, 25 hours old
    ]
    keep = retention_keep(candidates, Policy(daily=1, weekly=0, monthly=0), now=NOW, tz=TZ)
    assert keep == {0, 1, 2, 3, 4}  # 25 hours old: yesterday's only, and not the newest of it


def test_days_are_the_tenants_days() -> None:
    # 23:30 UTC on 29 Nov is already 30 Nov in Paris: the same day as a backup at noon UTC.
    late = Candidate(id=1, made_at=dt.datetime(2026, 11, 29, 23, 30, tzinfo=UTC),
                     verified=False, held=False)  # fmt: skip
    noon = Candidate(id=2, made_at=dt.datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
                     verified=False, held=False)  # fmt: skip
    later = NOW + dt.timedelta(days=2)  # past the grace day
    policy = Policy(daily=4, weekly=0, monthly=0)  # 2 Dec back to 29 Nov
    assert retention_keep([late, noon], policy, now=later, tz=TZ) == {2}
    assert retention_keep([late, noon], policy, now=later, tz=zoneinfo.ZoneInfo("UTC")) == {1, 2}


def _stored_backup(tenant: Any, made_at: dt.datetime, **fields: Any) -> Backup:
    artifact = artifact_make(tenant, b"archive", kind="backup", title="Backup",
                             filename="backup.tar.zst")  # fmt: skip
    return Backup.objects.create(
        tenant=tenant, kind=Backup.Kind.SCHEDULED, state=Backup.State.SUCCEEDED,
        artifact=artifact, schema_name=tenant.schema_name, started_at=made_at,
        size=artifact.size, **fields,
    )  # fmt: skip


@pytest.mark.django_db
def test_apply_deletes_the_bytes_of_what_the_rule_drops_and_only_in_that_tenant(
    acme: Any, globex: Any, artifacts_root: Any
) -> None:
    BackupPolicy.objects.create(tenant=acme, keep_daily=2, keep_weekly=0, keep_monthly=0)
    now = NOW  # 12:00 UTC: the same calendar day in acme's zone, as are the backups' 10:00
    days = [now - dt.timedelta(days=d, hours=2) for d in range(5)]  # today and 4 days back
    acme_backups = [_stored_backup(acme, when) for when in days]
    held = _stored_backup(acme, now - dt.timedelta(days=30))
    Artifact.objects.filter(backup=held).update(legal_hold=True)
    globex_backups = [_stored_backup(globex, when) for when in days]

    deleted = backups_retention_apply(tenant=acme, now=now)

    assert set(deleted) == {b.pk for b in acme_backups[2:]}
    for backup in acme_backups[2:]:
        artifact = Artifact.objects.get(backup=backup)
        assert artifact.deleted_at is not None and artifact.deleted_reason == "backup retention"
        assert not (artifacts_root / artifact.storage_key).exists()
        assert Backup.objects.filter(pk=backup.pk).exists()  # the row stays: history
    for backup in [*acme_backups[:2], held, *globex_backups]:
        artifact = Artifact.objects.get(backup=backup)
        assert artifact.deleted_at is None and (artifacts_root / artifact.storage_key).exists()
    assert AuditEntry.objects.filter(action="backup.retention_delete", tenant=acme).count() == 3
    assert backups_retention_apply(tenant=acme, now=now) == []  # nothing left to drop


@pytest.mark.django_db
def test_a_backup_whose_job_died_is_closed_as_interrupted(acme: Any, settings: Any) -> None:
    from django.utils import timezone

    from backups.services import backups_interrupted_close

    limit = dt.timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    dead = Backup.objects.create(tenant=acme, kind="scheduled", schema_name="acme",
                                 started_at=timezone.now() - limit - dt.timedelta(minutes=1))  # fmt: skip
    live = Backup.objects.create(tenant=acme, kind="manual", schema_name="acme")
    assert backups_interrupted_close() == 1
    dead.refresh_from_db()
    live.refresh_from_db()
    assert dead.state == "failed" and dead.error.startswith("interrupted")
    assert live.state == "running"
