"""The tenant on every log line: a context variable set by the tenant task base for the length
of one task call, copied onto each LogRecord by a record factory (installed once)."""

from __future__ import annotations

import contextvars
import logging
from typing import Any

current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("current_tenant", default="-")

_installed = False


def install_record_factory() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.tenant = current_tenant.get()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
