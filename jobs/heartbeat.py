"""Each worker's main process says, every JOBS_HEARTBEAT_INTERVAL_S, that it is alive and which
task ids it holds (reserved, waiting for their eta, or running). The reconciler trusts a job to
a worker only while that worker's heartbeat names it; `jobrun_started` refuses a duplicate of a
job a live worker still holds.

One Redis key per worker, with a lifetime of JOBS_HEARTBEAT_TTL_S: a worker killed with SIGKILL
simply stops renewing it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings

from saas.periodic import periodic_hooks_run

logger = logging.getLogger(__name__)

KEY_PREFIX = "saas:worker:"


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
    )


def held_task_ids() -> set[str]:
    """The task ids this worker process holds (Celery's own bookkeeping of its requests)."""
    from celery.worker import state

    return set(state.requests) | {request.id for request in list(state.active_requests)}


@dataclass(frozen=True)
class WorkerBeat:
    """What a live worker said in its last heartbeat."""

    hostname: str
    at: float
    held: frozenset[str]
    queues: tuple[str, ...] = ()
    concurrency: int | None = None

    @property
    def seen_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.at, tz=dt.UTC)


def heartbeat_write(
    hostname: str,
    held: Iterable[str],
    client: redis.Redis | None = None,
    *,
    queues: Iterable[str] = (),
    concurrency: int | None = None,
) -> None:
    body = json.dumps({"at": time.time(), "held": sorted(held), "queues": sorted(queues),
                       "concurrency": concurrency})  # fmt: skip
    (client or _client()).set(KEY_PREFIX + hostname, body, ex=settings.JOBS_HEARTBEAT_TTL_S)


def workers_read(client: redis.Redis | None = None) -> list[WorkerBeat]:
    """Live workers, by hostname."""
    client = client or _client()
    keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=1000))
    workers = []
    for key, value in zip(keys, client.mget(keys) if keys else [], strict=True):
        if value is None:
            continue  # expired between SCAN and MGET
        name = (key.decode() if isinstance(key, bytes) else str(key))[len(KEY_PREFIX) :]
        body = json.loads(value)
        workers.append(WorkerBeat(
            hostname=name, at=float(body["at"]), held=frozenset(body["held"]),
            queues=tuple(body.get("queues") or ()), concurrency=body.get("concurrency"),
        ))  # fmt: skip
    return sorted(workers, key=lambda worker: worker.hostname)


def heartbeats_read(client: redis.Redis | None = None) -> dict[str, set[str]]:
    """Live workers (hostname) and the task ids each holds."""
    return {worker.hostname: set(worker.held) for worker in workers_read(client)}


class Heartbeat(threading.Thread):
    """The thread in a worker's main process (started by `heartbeat_start`)."""

    def __init__(
        self, hostname: str, queues: Iterable[str] = (), concurrency: int | None = None
    ) -> None:
        super().__init__(name="saas-worker-heartbeat", daemon=True)
        self.hostname = hostname
        self.queues = tuple(queues)
        self.concurrency = concurrency
        self.stopping = threading.Event()

    def run(self) -> None:
        client = _client()
        while not self.stopping.is_set():
            try:
                heartbeat_write(self.hostname, held_task_ids(), client, queues=self.queues,
                                concurrency=self.concurrency)  # fmt: skip
            except Exception:  # Redis away: the next beat tries again; never kill the thread
                logger.warning("worker heartbeat not written", exc_info=True)
            periodic_hooks_run()  # e.g. the alert rules, when it is this process's turn
            self.stopping.wait(settings.JOBS_HEARTBEAT_INTERVAL_S)

    def stop(self) -> None:
        self.stopping.set()


_heartbeat: Heartbeat | None = None


def heartbeat_start(sender: Any = None, **kwargs: Any) -> None:
    """`worker_ready` receiver (JobsConfig.ready); the sender is the worker's consumer (the
    tests' in-thread worker passes it as `consumer`)."""
    global _heartbeat
    consumer = kwargs.get("consumer", sender)
    hostname = getattr(consumer, "hostname", None)
    if hostname is None or _heartbeat is not None:
        return
    _heartbeat = Heartbeat(hostname, *_consumer_shape(consumer))
    _heartbeat.start()


def _consumer_shape(consumer: Any) -> tuple[list[str], int | None]:
    """The queues a worker consumes and its pool size, for the dashboard (best effort: the
    heartbeat itself never depends on them)."""
    try:
        queues = [queue.name for queue in consumer.task_consumer.queues]
    except AttributeError:
        queues = []
    concurrency = getattr(getattr(consumer, "controller", None), "concurrency", None)
    return queues, concurrency if isinstance(concurrency, int) else None


def heartbeat_stop(sender: Any = None, **kwargs: Any) -> None:
    """`worker_shutdown` receiver: a clean stop removes the key at once."""
    global _heartbeat
    if _heartbeat is None:
        return
    _heartbeat.stop()
    try:
        _client().delete(KEY_PREFIX + _heartbeat.hostname)
    except redis.RedisError:
        pass
    _heartbeat = None
