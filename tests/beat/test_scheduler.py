"""The scheduler's leadership and cost, driven tick by tick against the real database, Redis and
an in-thread worker: heartbeat, an idle tick's statements, standby takeover, clean stop."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from beat.scheduler import TenantScheduler
from saas.celery import app
from tests.helpers import markers, periodic, scheduler

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker")


def test_each_tick_writes_the_heartbeat_that_healthz_reports() -> None:
    import redis
    from django.conf import settings

    from saas.health import BEAT_HEARTBEAT_KEY

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(BEAT_HEARTBEAT_KEY)
    scheduler().tick()
    beat: Any = client.get(BEAT_HEARTBEAT_KEY)
    assert beat is not None and dt.datetime.fromisoformat(
        beat.decode()
    ) > timezone.now() - dt.timedelta(minutes=1)


def test_an_idle_tick_is_one_statement_and_one_redis_command(settings: Any) -> None:
    import redis

    settings.ALERTS_ENABLED = True  # the alert rules' hook costs nothing between its turns

    periodic("acme", "beat-a", 0, due=False)
    s = scheduler()
    s.tick()
    s.tick()  # settle: the first ticks may pick up changes made while loading
    commands: list[str] = []
    original = redis.Redis.execute_command

    def counting(self: Any, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return original(self, *args, **options)

    redis.Redis.execute_command = counting  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as queries:
            s.tick()
    finally:
        redis.Redis.execute_command = original  # type: ignore[method-assign]
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert commands == ["EVALSHA"]  # lock renewal and heartbeat, in one script


def test_a_standby_takes_over_and_never_resends_a_due_run(settings: Any) -> None:
    import redis

    from beat.leadership import LEADER_KEY

    settings.BEAT_LOCK_TTL_S = 3
    client = redis.Redis.from_url(settings.REDIS_URL)
    periodic("acme", "beat-once", 44)  # due now
    leader, standby = scheduler(), TenantScheduler(app=app)
    for _ in range(5):
        leader.tick()  # sends beat-once; its run state is not synced to the database yet
    assert standby.tick() > 0 and not standby._leader  # stands by, sends nothing
    deadline = time.monotonic() + 20
    while markers("acme") != [44] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert markers("acme") == [44]

    client.delete(LEADER_KEY)  # the leader dies (its lock expires)
    for _ in range(5):
        standby.tick()
    assert standby._leader
    time.sleep(1)
    # The new leader read the old last_run_at from the database, so beat-once looked due again:
    # the per-(schema, entry, due time) guard stopped the second send.
    assert markers("acme") == [44]
    assert leader.tick() > 0 and not leader._leader  # the old leader, back, stands by


def test_a_clean_stop_hands_leadership_over_at_once() -> None:
    import redis
    from django.conf import settings

    from beat.leadership import LEADER_KEY

    first = scheduler()
    first.tick()
    assert first._leader
    first.close()
    assert redis.Redis.from_url(settings.REDIS_URL).get(LEADER_KEY) is None
    second = TenantScheduler(app=app)
    second.tick()
    assert second._leader
