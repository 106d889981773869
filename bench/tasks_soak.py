"""The jobs of bench/soak.py: ours (a tracked, atomic tenant task) and the peer's (a plain
Celery task with acks_late and the tenant switch done by hand). Each records its effect: one
row in its tenant's `soak_effect` table."""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from django.db import connection

from jobs.api import tenant_task

WORK_S = 0.004


def _effect(job: int, started: float) -> None:
    time.sleep(WORK_S)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO soak_effect (job, schema_name, started, done) "
            "VALUES (%s, current_schema(), %s, %s)",
            [job, started, time.time()],
        )


@tenant_task(name="bench.soak_ours", atomic=True)
def soak_ours(self: Any, job: int) -> None:
    _effect(job, time.time())


@shared_task(name="bench.soak_peer", bind=True, acks_late=True, reject_on_worker_lost=True)
def soak_peer(self: Any, job: int, schema: str) -> None:
    started = time.time()
    connection.set_schema(schema)  # type: ignore[attr-defined]  # the switch by hand
    try:
        _effect(job, started)
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
