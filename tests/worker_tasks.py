"""Tasks used by the worker tests (imported by the in-thread worker and, with -I, by the
prefork worker subprocess). Each works on IntervalSchedule rows, a table every schema has."""

from __future__ import annotations

import time
from typing import Any

from django.db import OperationalError, connection
from django_celery_beat.models import IntervalSchedule

from jobs.api import platform_task, tenant_task
from tenants.context import connection_schema

_failed_once: set[str] = set()


def _visible_markers() -> list[int]:
    return sorted(IntervalSchedule.objects.filter(period="days").values_list("every", flat=True))


@tenant_task(name="tests.worker_tasks.record_schema")
def record_schema(self: Any, marker: int = 0) -> dict[str, Any]:
    """Write a marker row in the current schema; report the schema and the markers it sees."""
    if marker:
        IntervalSchedule.objects.create(every=marker, period="days")
    return {"schema": connection_schema(), "markers": _visible_markers()}


@tenant_task(name="tests.worker_tasks.count_untracked", track=False)
def count_untracked(self: Any) -> int:
    return IntervalSchedule.objects.filter(period="days").count()


@tenant_task(name="tests.worker_tasks.count_tracked")
def count_tracked(self: Any) -> int:
    return IntervalSchedule.objects.filter(period="days").count()


@tenant_task(name="tests.worker_tasks.collect")
def collect(self: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
    """A chord body: what the header tasks saw, and where the body itself ran."""
    return {
        "schema": connection_schema(),
        "header_schemas": sorted(r["schema"] for r in results),
    }


@platform_task(name="tests.worker_tasks.platform_schema")
def platform_schema(self: Any) -> dict[str, Any]:
    return {"schema": connection_schema(), "markers": _visible_markers()}


@tenant_task(name="tests.worker_tasks.explode", max_retries=0, autoretry_for=())
def explode(self: Any) -> None:
    raise ValueError("boom inside the task")


@tenant_task(name="tests.worker_tasks.retry_once")
def retry_once(self: Any) -> dict[str, Any]:
    if self.request.retries == 0:
        raise self.retry(countdown=0.2, exc=RuntimeError("first attempt asks for a retry"))
    return {"schema": connection_schema(), "retries": self.request.retries}


@tenant_task(name="tests.worker_tasks.transient_once")
def transient_once(self: Any, key: str) -> str:
    """Fails with a database connection error on its first attempt: retried by autoretry."""
    if key not in _failed_once:
        _failed_once.add(key)
        raise OperationalError("server closed the connection unexpectedly")
    return connection_schema()


@tenant_task(name="tests.worker_tasks.slow")
def slow(self: Any, seconds: float, marker: int = 0) -> dict[str, Any]:
    """Sleep in steps with progress; write the marker at the end (to count completions)."""
    steps = max(1, int(seconds * 10))
    for step in range(steps):
        time.sleep(seconds / steps)
        self.progress(step + 1, steps, f"step {step + 1}")
    if marker:
        IntervalSchedule.objects.create(every=marker, period="days")
    return {"schema": connection_schema()}


@tenant_task(name="tests.worker_tasks.overruns_soft_limit", soft_time_limit=1, time_limit=5)
def overruns_soft_limit(self: Any) -> None:
    while True:
        IntervalSchedule.objects.exists()
        time.sleep(0.05)


@tenant_task(name="tests.worker_tasks.log_line")
def log_line(self: Any, text: str) -> str:
    import logging

    logging.getLogger("tests.worker_tasks").warning(text)
    return connection_schema()


@tenant_task(name="tests.worker_tasks.ignores_soft_limit", soft_time_limit=1, time_limit=2)
def ignores_soft_limit(self: Any) -> None:
    """Swallows the soft limit, so only the pool's hard limit can stop it."""
    from celery.exceptions import SoftTimeLimitExceeded

    for _ in range(300):
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            pass


@tenant_task(name="tests.worker_tasks.retry_inside_atomic")
def retry_inside_atomic(self: Any, marker: int) -> dict[str, Any]:
    """Asks for a retry from inside a transaction: the retry must still be sent."""
    from django.db import transaction

    with transaction.atomic():
        IntervalSchedule.objects.create(every=marker, period="days")
        if self.request.retries == 0:
            raise self.retry(countdown=0.2)
    return {"schema": connection_schema(), "markers": _visible_markers()}


@tenant_task(name="tests.worker_tasks.report_headers")
def report_headers(self: Any) -> dict[str, Any]:
    """What a beat-sent task sees: the tenant headers it came with and the schema it ran in."""
    return {
        "schema": connection_schema(),
        "tenant_id": getattr(self.request, "tenant_id", None),
        "tenant_schema": getattr(self.request, "tenant_schema", None),
        "periodic_task_name": getattr(self.request, "periodic_task_name", None),
    }


def _wait_for_go(key: str, timeout: float = 15) -> None:
    """Block until the test sets `key` in Redis (it kills our connection meanwhile)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + timeout
    while not client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)


@tenant_task(name="tests.worker_tasks.progress_across_outage")
def progress_across_outage(self: Any, marker: int, go_key: str) -> dict[str, Any]:
    """Reports progress, waits while the test cuts the database connection, then reads on the
    dead connection (the error retries the task, and the retry must be recorded), then does
    its work."""
    self.progress(1, 2, "before")
    _wait_for_go(go_key)
    IntervalSchedule.objects.filter(period="days").count()
    self.progress(2, 2, "after")
    IntervalSchedule.objects.create(every=marker, period="days")
    return {"schema": connection_schema(), "markers": _visible_markers()}


@platform_task(name="tests.worker_tasks.commit_mode")
def commit_mode(self: Any) -> str:
    """How this worker process's connection commits."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        row = cursor.fetchone()
    return str(row[0]) if row else ""


@platform_task(name="tests.worker_tasks.backend_pid")
def backend_pid(self: Any) -> int:
    """The PostgreSQL backend behind this worker process's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@tenant_task(name="tests.worker_tasks.slow_atomic", atomic=True)
def slow_atomic(self: Any, seconds: float, marker: int) -> dict[str, Any]:
    """Writes its marker first, then takes its time: killed meanwhile, nothing is kept."""
    IntervalSchedule.objects.create(every=marker, period="days")
    time.sleep(seconds)
    return {"schema": connection_schema()}
