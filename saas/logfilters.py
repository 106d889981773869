"""Logging filters (LOGGING in saas/settings.py)."""

from __future__ import annotations

import logging


class ExpectedForbiddenFilter(logging.Filter):
    """A 403 is an answer, not a fault: Django logs each PermissionDenied (django.request) with
    its traceback; this keeps the one line ("Forbidden (Permission denied): /admin/…") and drops
    the traceback. Other records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403 and (
            record.name == "django.request" or record.name.startswith("django.security")
        ):
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True
