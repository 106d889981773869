"""Thin platform tasks: each calls one service (artifacts/upkeep.py); beat runs them on the
default schedule in saas/settings.py (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from typing import Any

from artifacts.upkeep import artifacts_expire, artifacts_scrub
from jobs.api import platform_task


@platform_task(name="artifacts.tasks.artifacts_retention_task", long_running=True)
def artifacts_retention_task(self: Any) -> dict[str, int]:
    return {"deleted": artifacts_expire(progress=self.progress)}


@platform_task(name="artifacts.tasks.artifacts_scrub_task", long_running=True)
def artifacts_scrub_task(self: Any) -> dict[str, int]:
    return artifacts_scrub(progress=self.progress)
