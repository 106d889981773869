"""Platform jobs (public schema): JobRun upkeep, scheduled by beat (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from jobs import bookkeeping
from jobs.api import platform_task


# Names predate the move to jobs/: they are stored in schedule rows and in job history.
@platform_task(name="backoffice.tasks.jobruns_reap_task", track=False)
def jobruns_reap_task(self: Any) -> int:
    """Close attempts whose worker died without anyone recording it."""
    return bookkeeping.jobruns_reap()


@platform_task(name="backoffice.tasks.jobruns_prune_task")
def jobruns_prune_task(self: Any) -> int:
    return bookkeeping.jobruns_prune(older_than_days=settings.JOBRUN_RETENTION_DAYS)
