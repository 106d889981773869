"""What tells beat that a schema's schedules changed: django-celery-beat's model saves and
deletes (in the schema the connection is in), and a tenant's status change. Each calls the one
writer of the change log. Connected in BeatConfig.ready."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from beat.changelog import schedules_changed
from tenants.context import connection_schema
from tenants.models import Tenant
from tenants.signals import tenant_status_changed

BEAT_MODELS = (PeriodicTask, CrontabSchedule, IntervalSchedule, SolarSchedule, ClockedSchedule)


def _schedule_saved(sender: Any, instance: Any = None, **kwargs: Any) -> None:
    if getattr(instance, "no_changes", False):
        return  # beat saving run state (last_run_at, total_run_count): not a schedule change
    schedules_changed(connection_schema())


def _tenant_status_changed(sender: Any, tenant: Tenant, **kwargs: Any) -> None:
    schedules_changed(tenant.schema_name)


def connect() -> None:
    for model in BEAT_MODELS:
        post_save.connect(
            _schedule_saved, sender=model, dispatch_uid=f"beat-change-save-{model.__name__}"
        )
        post_delete.connect(
            _schedule_saved, sender=model, dispatch_uid=f"beat-change-del-{model.__name__}"
        )
    tenant_status_changed.connect(_tenant_status_changed, dispatch_uid="beat-change-status")
