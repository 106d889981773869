"""System checks for settings whose combination matters more than any single value."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def celery_visibility_timeout_check(app_configs: object, **kwargs: object) -> list[Error]:
    # Redis redelivers an unacknowledged message after the visibility timeout. With acks_late,
    # a message is unacknowledged while it waits for its eta and while it runs, so the timeout
    # must outlast both or a second worker starts the same job.
    if settings.TENANT_FANOUT_WINDOW_S > settings.CELERY_MAX_TASK_DELAY_S:
        return [
            Error("TENANT_FANOUT_WINDOW_S must not exceed CELERY_MAX_TASK_DELAY_S.", id="saas.E003")
        ]
    longest = max(settings.CELERY_MAX_TASK_DELAY_S, settings.CELERY_TASK_TIME_LIMIT)
    if longest >= settings.CELERY_VISIBILITY_TIMEOUT_S:
        return [
            Error(
                f"CELERY_VISIBILITY_TIMEOUT_S ({settings.CELERY_VISIBILITY_TIMEOUT_S}s) must "
                "exceed "
                f"the longest task delay or hard time limit ({longest}s).",
                id="saas.E001",
            )
        ]
    if settings.CELERY_TASK_SOFT_TIME_LIMIT >= settings.CELERY_TASK_TIME_LIMIT:
        return [
            Error(
                "CELERY_TASK_SOFT_TIME_LIMIT_S must be below CELERY_TASK_TIME_LIMIT_S.",
                id="saas.E002",
            )
        ]
    return []
