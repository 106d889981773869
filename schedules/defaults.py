"""Default schedules: the per-tenant jobs every tenant has, declared by the app that owns the
task and created in each tenant's schema by `schedules.services.default_schedules_ensure` (a tenant
default maker, registered in SchedulesConfig.ready). This module imports no model: an app's
apps.py imports it before the models are ready.

An app declares its own by a `default_schedules` list on its AppConfig:

    class UserSessionsConfig(AppConfig):
        default_schedules = [DefaultSchedule(name=…, task=…, cron="15 3 * * *", description=…)]

"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    cron: str  # in the tenant's own time zone; nightly jobs go in its maintenance window
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def default_schedules() -> list[DefaultSchedule]:
    """Every app's declared default schedules, in INSTALLED_APPS order."""
    found: list[DefaultSchedule] = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "default_schedules", []))
    return found
