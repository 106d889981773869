"""Periodic hooks run at most once per interval in a process, whatever the caller's pace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from saas import periodic


@pytest.fixture
def hooks() -> Iterator[None]:
    saved = list(periodic._hooks)
    periodic._hooks.clear()
    yield
    periodic._hooks[:] = saved


@pytest.mark.usefixtures("hooks")
def test_a_hook_runs_once_per_interval_and_a_failing_one_stops_nothing() -> None:
    calls: list[str] = []

    def failing() -> None:
        calls.append("failing")
        raise RuntimeError("Redis away")

    periodic.periodic_hook_register(lambda: calls.append("ok"), lambda: 60)
    periodic.periodic_hook_register(failing, lambda: 60)
    for now in (0.0, 1.0, 59.0):  # beat ticks often: only the first call is a turn
        periodic.periodic_hooks_run(now)
    assert calls == ["ok", "failing"]
    periodic.periodic_hooks_run(60.0)
    assert calls == ["ok", "failing", "ok", "failing"]
