"""What the operations panel shows: queue depth, live workers, failing jobs, beat heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from beat.leadership import beat_heartbeat
from jobs.heartbeat import WorkerBeat, workers_read
from jobs.models import JobRun
from jobs.transport import queue_depth
from saas.celery import LONG_QUEUE, SHORT_QUEUE

REFUSALS = ("TenantMissing", "TenantUnknown", "TenantMismatch", "TenantDeleted")


@dataclass(frozen=True)
class Refusal:
    """Messages the worker refused to run, by reason (a missing, unknown or mismatched
    tenant): they never ran, which is right, and staff should know they came."""

    reason: str
    count: int
    last_at: datetime
    example: str


@dataclass(frozen=True)
class Operations:
    queues: dict[str, int | None]
    workers: list[WorkerBeat] | None  # live workers; None: Redis unreachable
    failing_24h: list[JobRun]
    refused_24h: list[Refusal]
    beat_heartbeat: str | None


def queue_depths() -> dict[str, int | None]:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
    depths: dict[str, int | None] = {}
    for name in (SHORT_QUEUE, LONG_QUEUE):
        try:
            depths[name] = queue_depth(name, client)
        except redis.RedisError:
            depths[name] = None
    return depths


def workers_alive() -> list[WorkerBeat] | None:
    """Workers whose heartbeat is current: the jobs each holds, its queues and concurrency (no
    ping to wait for: each worker writes its own heartbeat, jobs/heartbeat.py)."""
    try:
        return workers_read()
    except redis.RedisError:
        return None


def refusals(since: datetime) -> list[Refusal]:
    rows = (
        JobRun.objects.filter(error_type__in=REFUSALS, finished_at__gte=since)
        .values("error_type")
        .annotate(count=Count("id"), last_at=Max("finished_at"), example=Max("error_message"))
        .order_by("-last_at")
    )
    return [Refusal(r["error_type"], r["count"], r["last_at"], r["example"]) for r in rows]


def operations_snapshot() -> Operations:
    since = timezone.now() - timedelta(hours=24)
    failing = list(
        JobRun.objects.filter(state__in=["failed", "lost"], finished_at__gte=since)
        .exclude(error_type__in=REFUSALS)
        .order_by("-finished_at")[:50]
    )
    return Operations(
        queues=queue_depths(),
        workers=workers_alive(),
        failing_24h=failing,
        refused_24h=refusals(since),
        beat_heartbeat=beat_heartbeat(),
    )
