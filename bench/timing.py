"""Worker-side timestamps for the task benchmark: one RPUSH per task, the same for every
variant, so it shifts all figures alike."""

from __future__ import annotations

import os

import redis

KEY = "bench:timings"
_client: redis.Redis | None = None


def record(started: float, finished: float, sent_at: float) -> None:
    global _client
    if os.environ.get("BENCH_NO_RECORD"):  # in-process measurement: no Redis round-trip
        return
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    _client.rpush(KEY, f"{started},{finished},{sent_at}")


def _parse(raw: bytes | str) -> tuple[float, float, float]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    started, finished, sent_at = map(float, text.split(","))
    return started, finished, sent_at


def collect(client: redis.Redis) -> list[tuple[float, float, float]]:
    return [_parse(raw) for raw in client.lrange(KEY, 0, -1)]
