"""What the operations panel shows: queue depth, live workers, failing jobs, beat heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from beat.leadership import beat_heartbeat
from jobs.models import JobRun
from saas.celery import LONG_QUEUE, SHORT_QUEUE, app

WORKERS_CACHE_KEY = "ops:workers"
WORKERS_CACHE_S = 15
INSPECT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Operations:
    queues: dict[str, int | None]
    workers: list[str] | None  # None: no answer within the timeout
    failing_24h: list[JobRun]
    beat_heartbeat: str | None


def queue_depths() -> dict[str, int | None]:
    # The Redis transport keeps each queue as a list named after it.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
    depths: dict[str, int | None] = {}
    for name in (SHORT_QUEUE, LONG_QUEUE):
        try:
            depths[name] = int(client.llen(name))
        except redis.RedisError:
            depths[name] = None
    return depths


def workers_alive() -> list[str] | None:
    """Names of workers that answered a ping, cached for a few seconds: a ping waits for the
    timeout, and the panel may be reloaded often."""
    cached = cache.get(WORKERS_CACHE_KEY)
    if cached is not None:
        return cached
    try:
        replies = app.control.inspect(timeout=INSPECT_TIMEOUT_S).ping() or {}
    except Exception:  # broker down: show "unknown" rather than break the admin
        return None
    names = sorted(replies)
    cache.set(WORKERS_CACHE_KEY, names, WORKERS_CACHE_S)
    return names


def operations_snapshot() -> Operations:
    since = timezone.now() - timedelta(hours=24)
    failing = list(
        JobRun.objects.filter(state__in=["failed", "lost"], finished_at__gte=since).order_by(
            "-finished_at"
        )[:50]
    )
    return Operations(
        queues=queue_depths(),
        workers=workers_alive(),
        failing_24h=failing,
        beat_heartbeat=beat_heartbeat(),
    )
