"""Default schedules: the per-tenant jobs every tenant has, declared by the app that owns the
task and created in each tenant's schema by `schedules.services.default_schedules_ensure` (a tenant
default maker, registered in SchedulesConfig.ready). This module imports no model: an app's
apps.py imports it before the models are ready.

An app declares its own by a `default_schedules` list on its AppConfig:

    class UserSessionsConfig(AppConfig):
        default_schedules = [DefaultSchedule(name=…, task=…, cron="15 3 * * *", description=…)]

A default with `spread_minutes` gets, in each tenant, its cron moved by the tenant's offset.

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
    # Spread over a window: each tenant's cron is moved later by its own stable offset in
    # [0, spread_minutes) (schedules.timing.cron_spread), whatever BEAT_STAGGER_WINDOW_S says, so
    # heavy nightly jobs (backups) do not all start at once. `cron` must then name one minute
    # and one hour, and the window must end the same day.
    spread_minutes: int = 0

    def __post_init__(self) -> None:
        if self.spread_minutes:
            minute, hour = (int(f) for f in self.cron.split()[:2])  # ValueError if not plain
            if hour * 60 + minute + self.spread_minutes > 24 * 60:
                raise ValueError(f"{self.name}: the spread window must end before midnight")


def default_schedules() -> list[DefaultSchedule]:
    """Every app's declared default schedules, in INSTALLED_APPS order."""
    found: list[DefaultSchedule] = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "default_schedules", []))
    return found
