"""Variants (a), (b), (c) of bench/task_overhead.py, on the project's own Celery app."""

from __future__ import annotations

import time
from typing import Any

from django_celery_beat.models import IntervalSchedule

from bench.timing import record
from jobs.api import tenant_task
from saas.celery import app


def the_query() -> int:
    return IntervalSchedule.objects.filter(period="days").count()


@app.task(name="bench.plain")
def plain(sent_at: float = 0.0) -> None:
    started = time.time()
    the_query()
    record(started, time.time(), sent_at)


@tenant_task(name="bench.tenant_untracked", track=False)
def tenant_untracked(self: Any, sent_at: float = 0.0) -> None:
    started = time.time()
    the_query()
    record(started, time.time(), sent_at)


@tenant_task(name="bench.tenant_tracked")
def tenant_tracked(self: Any, sent_at: float = 0.0) -> None:
    started = time.time()
    the_query()
    record(started, time.time(), sent_at)
