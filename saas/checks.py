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
    if settings.JOBS_RETRY_BACKOFF_MAX_S > settings.CELERY_MAX_TASK_DELAY_S:
        return [
            Error(
                "JOBS_RETRY_BACKOFF_MAX_S must not exceed CELERY_MAX_TASK_DELAY_S.", id="saas.E004"
            )
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


# Keys that were ever written down as examples or defaults (ours, Django's, the compose file's).
KNOWN_WEAK_KEYS = ("change-me", "changeme", "django-insecure", "dev-only-secret", "placeholder",
                   "your-secret-key", "secret-key-here", "replace-me")  # fmt: skip


def secret_key_weakness(key: str) -> str | None:
    """Why a SECRET_KEY must not sign production sessions and links, or None."""
    lowered = key.lower()
    for marker in KNOWN_WEAK_KEYS:
        if marker in lowered:
            return f"it contains the placeholder text “{marker}”"
    if len(key) < 50:
        return f"it is {len(key)} characters long; use 50 or more"
    if len(set(key)) < 10:
        return "it uses fewer than 10 different characters"
    return None


@register()
def secret_key_check(app_configs: object, **kwargs: object) -> list[Error]:
    if settings.DEBUG:
        return []
    weakness = secret_key_weakness(settings.SECRET_KEY)
    if weakness is None:
        return []
    return [
        Error(
            f"SECRET_KEY is not fit for production: {weakness}.",
            hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(64))'",
            id="saas.E005",
        )
    ]
