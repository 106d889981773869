"""Work that long-running processes offer to do now and then, registered by the apps above them
(the console's alert rules): beat's tick and every worker's heartbeat thread run the hooks, and
each hook decides for itself whether it is its turn (a lock in Redis)."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_hooks: list[Callable[[], object]] = []


def periodic_hook_register(hook: Callable[[], object]) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def periodic_hooks_run() -> None:
    """Run every hook; one failing (Redis or the database away) never stops its caller."""
    for hook in list(_hooks):
        try:
            hook()
        except Exception:
            logger.warning(
                "periodic hook %s failed", getattr(hook, "__name__", hook), exc_info=True
            )
