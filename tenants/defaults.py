"""Rows every new tenant starts with, written inside its schema during provisioning.

Each maker is idempotent (creates only what is missing) so the same list re-applies defaults to
existing tenants — the admin's "Apply default schedules" action — without overwriting a staff
edit: a default schedule that exists under its name is left exactly as it is, even disabled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django_celery_beat.models import PeriodicTask
from kombu.utils.json import dumps

from schedules.services import crontab_ensure
from tenants.models import Tenant

DefaultMaker = Callable[[Tenant], None]


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    cron: str  # in the tenant's own time zone
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)


# The per-tenant jobs every tenant has, in its maintenance window (night, in its time zone).
DEFAULT_SCHEDULES: list[DefaultSchedule] = [
    DefaultSchedule(
        name="sessions-cleanup-daily",
        task="usersessions.tasks.sessions_cleanup_task",
        cron="15 3 * * *",
        description="Delete expired sessions and those past the tenant's maximum age.",
    ),
    DefaultSchedule(
        name="tenant-usage-nightly",
        task="tenants.tasks.tenant_tables_count_task",
        cron="45 3 * * *",
        description="Row counts of every table (usage figures).",
    ),
]


def default_schedules_ensure(tenant: Tenant) -> None:
    """Create the default schedules the tenant does not have (by name); never update one."""
    existing = set(
        PeriodicTask.objects.filter(name__in=[d.name for d in DEFAULT_SCHEDULES]).values_list(
            "name", flat=True
        )
    )
    with transaction.atomic():
        for default in DEFAULT_SCHEDULES:
            if default.name in existing:
                continue
            PeriodicTask.objects.create(
                name=default.name, task=default.task, description=default.description,
                crontab=crontab_ensure(default.cron, tenant.timezone),
                kwargs=dumps(default.kwargs),
            )  # fmt: skip


TENANT_DEFAULTS: list[DefaultMaker] = [default_schedules_ensure]
