"""Queue depth over the last hours, for the dashboard's chart: one sample a minute in a capped
Redis list. Every long-running process offers to take the sample (saas.periodic); a per-minute
key lets exactly one of them do it, so the history has no gaps while any process runs and no
duplicates however many run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from jobs.transport import queue_depth
from saas.celery import LONG_QUEUE, SHORT_QUEUE

HISTORY_KEY = "saas:ops:queue-depths"
TAKEN_KEY = "saas:ops:queue-depths:taken:{minute}"
SAMPLE_EVERY_S = 60
HISTORY_LEN = 6 * 60  # six hours of minutes
QUEUES = (SHORT_QUEUE, LONG_QUEUE)


@dataclass(frozen=True)
class DepthSample:
    at: float
    depths: dict[str, int]


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def queue_depths_sample(now: float | None = None, client: redis.Redis | None = None) -> bool:
    """Take this minute's sample unless another process has. True if this call took it."""
    now = time.time() if now is None else now
    client = client or _client()
    minute = int(now // SAMPLE_EVERY_S)
    if not client.set(TAKEN_KEY.format(minute=minute), 1, nx=True, ex=2 * SAMPLE_EVERY_S):
        return False
    sample = {"at": minute * SAMPLE_EVERY_S, "depths": {q: queue_depth(q, client) for q in QUEUES}}
    pipe = client.pipeline()
    pipe.lpush(HISTORY_KEY, json.dumps(sample))
    pipe.ltrim(HISTORY_KEY, 0, HISTORY_LEN - 1)
    pipe.execute()
    return True


def queue_depths_history(client: redis.Redis | None = None) -> list[DepthSample]:
    """Oldest first; empty when Redis cannot be read (the dashboard says so)."""
    try:
        raw = (client or _client()).lrange(HISTORY_KEY, 0, HISTORY_LEN - 1)
    except redis.RedisError:
        return []
    samples = [json.loads(item) for item in raw]
    return [DepthSample(float(s["at"]), dict(s["depths"])) for s in reversed(samples)]
