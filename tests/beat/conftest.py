"""Beat's tests drive the scheduler with a clock of their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import redis
from django.conf import settings

from beat import clock as beat_clock

UTC = dt.UTC


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dt.datetime], None]]:
    now = [dt.datetime(2027, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(beat_clock, "clock", lambda: now[0])

    def set_clock(value: dt.datetime) -> None:
        now[0] = value.astimezone(UTC)

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):
        client.delete(key)
    yield set_clock
