"""Platform jobs (public schema): JobRun upkeep, scheduled by beat (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from backoffice import jobs
from tenants.task_base import platform_task


@platform_task(track=False)
def jobruns_reap_task(self: Any) -> int:
    """Close attempts whose worker died without anyone recording it."""
    return jobs.jobruns_reap()


@platform_task()
def jobruns_prune_task(self: Any) -> int:
    return jobs.jobruns_prune(older_than_days=settings.JOBRUN_RETENTION_DAYS)
