"""Writes ScheduleChange rows so beat reloads the schema whose schedules changed."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from tenants.models import ScheduleChange
from tenants.signals import tenant_status_changed

BEAT_MODELS = (PeriodicTask, CrontabSchedule, IntervalSchedule, SolarSchedule, ClockedSchedule)


def _schedule_saved(sender: Any, instance: Any = None, **kwargs: Any) -> None:
    if getattr(instance, "no_changes", False):
        return  # beat saving run state (last_run_at, total_run_count): not a schedule change
    # The current schema is the one whose row changed; ScheduleChange lives in public only, so
    # the insert lands there whatever the search path.
    ScheduleChange.objects.create(schema_name=connection.schema_name or "public")


def _tenant_status_changed(sender: Any, tenant: Any, **kwargs: Any) -> None:
    ScheduleChange.objects.create(schema_name=tenant.schema_name)


def connect() -> None:
    for model in BEAT_MODELS:
        post_save.connect(
            _schedule_saved, sender=model, dispatch_uid=f"beat-change-save-{model.__name__}"
        )
        post_delete.connect(
            _schedule_saved, sender=model, dispatch_uid=f"beat-change-del-{model.__name__}"
        )
    tenant_status_changed.connect(_tenant_status_changed, dispatch_uid="beat-change-status")
