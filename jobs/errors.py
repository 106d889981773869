"""Why a tracked job did not run its body, and which errors a later attempt can get past."""

from __future__ import annotations

from typing import Any

from saas.errors import SERVICE_DOWN

# Connection errors that a later attempt can get past (the database or Redis away). Anything
# else is a bug or bad input and fails at once.
TRANSIENT_ERRORS = SERVICE_DOWN


class TenantTaskError(Exception):
    """A tenant task refused to run. Never retried: the message itself is wrong."""


class TenantMissing(TenantTaskError):
    pass


class TenantUnknown(TenantTaskError):
    pass


class TenantMismatch(TenantTaskError):
    pass


class TenantDeleted(TenantTaskError):
    """The tenant was offboarded: its schema is gone (backups.offboarding)."""


class JobSkipped(Exception):
    """Raised by a task body that decided not to do its work (another run holds the lock):
    the JobRun is closed as `skipped` with this reason and `result`, and the task returns
    `result`."""

    def __init__(self, reason: str, *, result: Any = None) -> None:
        super().__init__(reason)
        self.result = result
