"""Platform upkeep of the schedule change log (public schema), scheduled by beat."""

from __future__ import annotations

from typing import Any

from beat.changelog import schedule_changes_prune
from jobs.api import platform_task


# The name predates the move to beat/: it is stored in public's schedule row and in job history.
@platform_task(name="schedules.tasks.schedule_changes_prune_task")
def schedule_changes_prune_task(self: Any) -> int:
    return schedule_changes_prune()
