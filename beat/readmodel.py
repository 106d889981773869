"""The cross-tenant overview's read model (ScheduleSummary, public), kept by beat: a schema's
rows are replaced when beat (re)loads it, and run times are updated after each send, so the
overview reads one table with one query per page however many tenants there are. The rows in
each schema stay the truth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from beat.entry import TenantEntry
from beat.models import ScheduleSummary
from schedules.services import schedule_describe, schedule_state


def summary_row(
    model: PeriodicTask,
    *,
    tenant_id: int,
    schema_name: str,
    entry: TenantEntry | None,
    now: dt.datetime,
) -> ScheduleSummary:
    """The overview row of one periodic task (`entry`: its beat entry, if it runs)."""
    state = schedule_state(model)
    return ScheduleSummary(
        tenant_id=tenant_id, schema_name=schema_name, name=model.name, task=model.task,
        schedule=schedule_describe(model)[:300], enabled=model.enabled,
        last_run_at=model.last_run_at if model.total_run_count else None,
        next_run_at=entry.next_run_at() if entry is not None else None,
        missed_runs=state.missed_runs if state is not None else 0,
        refreshed_at=now,
    )  # fmt: skip


def summary_replace_all(rows: Iterable[ScheduleSummary]) -> None:
    with transaction.atomic():
        ScheduleSummary.objects.all().delete()
        ScheduleSummary.objects.bulk_create(rows, batch_size=2000)


def summary_replace(schema_name: str, rows: Iterable[ScheduleSummary]) -> None:
    with transaction.atomic():
        ScheduleSummary.objects.filter(schema_name=schema_name).delete()
        ScheduleSummary.objects.bulk_create(rows)


def summary_run_record(entry: TenantEntry) -> None:
    """After a send: the entry's last and next run."""
    ScheduleSummary.objects.filter(schema_name=entry.schema_name, name=entry.name).update(
        last_run_at=entry.last_run_at, next_run_at=entry.next_run_at()
    )
