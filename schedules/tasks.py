"""Platform upkeep of the schedule change log (public schema), scheduled by beat."""

from __future__ import annotations

from typing import Any

from schedules.services import schedule_changes_prune
from tenants.task_base import platform_task


@platform_task()
def schedule_changes_prune_task(self: Any) -> int:
    return schedule_changes_prune()
