"""Helpers shared by the real-worker tests (not tests themselves)."""

from __future__ import annotations

import time

from django.db import connection

from backoffice.models import JobRun

WAIT = 20


def markers_everywhere() -> dict[str, int]:
    """How many marker rows (IntervalSchedule, period "days") each schema holds."""
    counts = {}
    with connection.cursor() as cursor:
        for schema in ("public", "acme", "globex"):
            cursor.execute(
                f"SELECT count(*) FROM {schema}.django_celery_beat_intervalschedule "
                "WHERE period='days'"
            )
            counts[schema] = cursor.fetchone()[0]
    return counts


def wait_for_state(task_id: str, *states: str) -> JobRun:
    deadline = time.monotonic() + WAIT
    run = None
    while time.monotonic() < deadline:
        run = JobRun.objects.filter(task_id=task_id).first()
        if run is not None and run.state in states:
            return run
        time.sleep(0.05)
    detail = run and (run.state, run.error_type, run.error_message)
    raise AssertionError(f"JobRun {task_id} never reached {states}: {detail}")
