"""What the broker (Redis, kombu's transport) holds, read by the reconciler: which task ids wait
in a queue, which were delivered to a consumer and not acknowledged yet ("unacked", with the
time of delivery), and removing an unacked message whose consumer is gone (so kombu does not
deliver it again after the visibility timeout, long after the reconciler re-sent it).

Key names are kombu's (`kombu.transport.redis`): one list per queue and priority step, the hash
`unacked` (delivery tag -> [message, exchange, routing key]) and the sorted set `unacked_index`
(delivery tag -> delivery time).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from kombu.transport.redis import PRIORITY_STEPS, Channel

# With Redis, priority 0 is served first. First sends use CELERY_TASK_DEFAULT_PRIORITY (a step
# lower); a job sent again after a fault uses this one, so it runs next instead of waiting
# behind the backlog its first send joined.
RESEND_PRIORITY = 0
UNACKED = Channel.unacked_key
UNACKED_INDEX = Channel.unacked_index_key
SCAN_CHUNK = 1000


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=2
    )


def _task_id(raw: bytes | str | dict[str, Any]) -> str | None:
    if isinstance(raw, dict):
        message = raw
    else:
        try:
            message = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(message, dict):
        return None
    headers = message.get("headers") or {}
    return headers.get("id") or (message.get("properties") or {}).get("correlation_id")


def _queue_keys(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


def queue_depth(queue: str, client: redis.Redis | None = None) -> int:
    """Messages waiting in a queue, over all its priority lists."""
    client = client or _client()
    return sum(int(client.llen(key)) for key in _queue_keys(queue))


@dataclass(frozen=True)
class Unacked:
    tag: str
    delivered_at: float


@dataclass(frozen=True)
class BrokerView:
    waiting: set[str]  # task ids in a queue list
    unacked: dict[str, Unacked]  # task id -> its delivery


def broker_view(queues: Iterable[str], client: redis.Redis | None = None) -> BrokerView:
    client = client or _client()
    waiting: set[str] = set()
    for queue in set(queues):
        for key in _queue_keys(queue):
            length = int(client.llen(key))
            for start in range(0, length, SCAN_CHUNK):
                for raw in client.lrange(key, start, start + SCAN_CHUNK - 1):
                    task_id = _task_id(raw)
                    if task_id:
                        waiting.add(task_id)
    scored: list[tuple[bytes, float]] = client.zrange(UNACKED_INDEX, 0, -1, withscores=True)  # type: ignore[assignment]
    delivered = {tag.decode(): float(score) for tag, score in scored}
    unacked: dict[str, Unacked] = {}
    for tag, value in client.hgetall(UNACKED).items():
        tag_s = tag.decode() if isinstance(tag, bytes) else str(tag)
        try:
            raw = json.loads(value)[0]
        except (ValueError, IndexError, TypeError):
            continue
        task_id = _task_id(raw)
        if task_id:
            unacked[task_id] = Unacked(tag=tag_s, delivered_at=delivered.get(tag_s, 0.0))
    return BrokerView(waiting=waiting, unacked=unacked)


def unacked_forget(tags: Iterable[str], client: redis.Redis | None = None) -> None:
    """Drop deliveries whose consumer is gone (the reconciler re-sends their jobs)."""
    tags = list(tags)
    if not tags:
        return
    client = client or _client()
    pipe = client.pipeline()
    pipe.zrem(UNACKED_INDEX, *tags)
    pipe.hdel(UNACKED, *tags)
    pipe.execute()
