"""What a schedule row may hold, checked like code input: by the schedule form, by beat before
it loads a row, and by the admin before it shows one (a row stored before these rules shows as
invalid, never as an error page)."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask
from kombu.utils.json import loads

from jobs.bookkeeping import ARGUMENTS_MAX_BYTES
from jobs.headers import CELERY_HEADERS, TENANT_ID, TENANT_SCHEMA

# Arguments are stored with every job (JobRun), which keeps them whole up to this size: a
# schedule's runs can always be retried.
ARGS_MAX_BYTES = ARGUMENTS_MAX_BYTES
HEADERS_MAX_BYTES = 1024
HEADERS_MAX_COUNT = 10
DESCRIPTION_MAX_CHARS = 2000
# Headers are for the schedule's own markers only: "x-" names. Celery's message headers (and
# ours) are never taken from a row: one naming "task" once ran a platform task from a tenant's
# schedule while job history recorded the tenant task.
HEADER_PREFIX = "x-"
RESERVED_HEADERS = CELERY_HEADERS | {
    TENANT_ID, TENANT_SCHEMA, "periodic_task_name", "celery_beat_task",
}  # fmt: skip


def nul_check(value: str, what: str) -> None:
    # A NUL itself, or JSON's escape for one (PostgreSQL's jsonb and text refuse both).
    if "\x00" in value or "\\u0000" in value.lower():
        raise ValidationError(f"{what} contains a NUL character, which cannot be stored.")


def headers_check(headers: Any) -> None:
    if not isinstance(headers, dict):
        raise ValidationError('Headers must be a JSON object, e.g. {"x-origin": "import"}.')
    if len(headers) > HEADERS_MAX_COUNT:
        raise ValidationError(f"At most {HEADERS_MAX_COUNT} headers.")
    for name, value in headers.items():
        if name in RESERVED_HEADERS:
            raise ValidationError(f"“{name}” is a message header of Celery's or ours: not allowed.")
        if not name.startswith(HEADER_PREFIX):
            raise ValidationError(f"Header “{name}”: custom headers start with “{HEADER_PREFIX}”.")
        if not isinstance(value, str | int | float | bool):
            raise ValidationError(f"Header “{name}”: a value is a string, a number or true/false.")
    if len(json.dumps(headers)) > HEADERS_MAX_BYTES:
        raise ValidationError(f"Headers may take at most {HEADERS_MAX_BYTES} bytes as JSON.")


def arguments_check(args: str, kwargs: str) -> None:
    size = len(args.encode()) + len(kwargs.encode())
    if size > ARGS_MAX_BYTES:
        raise ValidationError(
            f"Arguments take {size:,} bytes; at most {ARGS_MAX_BYTES:,} (as JSON) are allowed."
        )


def description_check(description: str) -> None:
    if len(description) > DESCRIPTION_MAX_CHARS:
        raise ValidationError(f"At most {DESCRIPTION_MAX_CHARS:,} characters.")


def periodic_task_problem(task: PeriodicTask) -> str | None:
    """Why a stored row breaks the rules, or None. (The crontab is checked by its reader.)"""
    try:
        for text, what in ((task.args or "", "Arguments"), (task.kwargs or "", "Keyword arguments"),
                           (task.headers or "", "Headers"), (task.description or "", "Description")):  # fmt: skip
            nul_check(text, what)
        args, kwargs = loads(task.args or "[]"), loads(task.kwargs or "{}")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return "arguments must be a JSON list and keyword arguments a JSON object"
        arguments_check(task.args or "", task.kwargs or "")
        headers_check(loads(task.headers or "{}"))
        description_check(task.description or "")
    except ValidationError as exc:
        return " ".join(exc.messages)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    return None
