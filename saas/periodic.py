"""Work that long-running processes offer to do now and then, registered by the apps above them
(the console's alert rules): beat's tick and every worker's heartbeat thread run the hooks.

Each hook has an interval and runs at most that often in a process, decided here with a clock
of the process's own: beat ticks every second or so, and an idle tick must stay one SQL
statement and one Redis command, so a hook costs nothing on the ticks between its turns. Which
process does the work in a given interval is the hook's own business (the alert rules take a
lock in Redis)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class _Hook:
    run: Callable[[], object]
    interval_s: Callable[[], float]  # read when due: settings may change in tests
    due_at: float = 0.0


_hooks: list[_Hook] = []


def periodic_hook_register(hook: Callable[[], object], interval_s: Callable[[], float]) -> None:
    if all(known.run is not hook for known in _hooks):
        _hooks.append(_Hook(hook, interval_s))


def periodic_hooks_run(now: float | None = None) -> None:
    """Run the hooks whose turn it is in this process; one failing (Redis or the database
    away) never stops its caller."""
    now = time.monotonic() if now is None else now
    for hook in list(_hooks):
        if now < hook.due_at:
            continue
        hook.due_at = now + hook.interval_s()
        try:
            hook.run()
        except Exception:
            logger.warning(
                "periodic hook %s failed", getattr(hook.run, "__name__", hook.run), exc_info=True
            )
