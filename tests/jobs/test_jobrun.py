"""JobRun: one row per tracked task id, its states, attempts and progress, from a real worker."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import pytest
from celery.app.trace import build_tracer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import bookkeeping as jobs
from jobs.models import JobRun
from tenants.context import connection_schema
from tenants.models import Tenant
from tests.helpers import wait_for_state
from tests.worker_tasks import (
    count_tracked,
    count_untracked,
    explode,
    record_schema,
    retry_once,
    slow,
    transient_once,
)

WAIT = 20
worker = pytest.mark.usefixtures("live_db", "celery_worker")


@worker
def test_a_successful_job_records_its_whole_life() -> None:
    acme = Tenant.objects.get(slug="acme")
    result = record_schema.apply_async((3,), tenant=acme)
    result.get(timeout=WAIT)
    run = wait_for_state(result.id, "succeeded")
    assert (run.task_name, run.tenant_slug, run.schema_name) == (
        "tests.worker_tasks.record_schema", "acme", "acme",
    )  # fmt: skip
    assert (run.args, run.kwargs, run.queue) == ([3], {}, "short")
    assert run.summary == "record_schema(3)"
    assert run.attempt == 1 and run.attempts == []
    assert run.started_at is not None and run.finished_at is not None
    assert run.queued_at <= run.started_at <= run.finished_at and run.duration_s is not None
    assert run.worker and run.result_summary == {"schema": "acme", "markers": [3]}


@worker
def test_an_exception_is_recorded_with_its_traceback() -> None:
    result = explode.apply_async(tenant=Tenant.objects.get(slug="globex"))
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=WAIT)
    run = wait_for_state(result.id, "failed")
    assert (run.error_type, run.error_message) == ("ValueError", "boom inside the task")
    assert "raise ValueError" in run.traceback


@worker
def test_a_retry_keeps_one_row_and_lists_the_earlier_attempt() -> None:
    result = retry_once.apply_async(tenant=Tenant.objects.get(slug="acme"))
    assert result.get(timeout=WAIT) == {"schema": "acme", "retries": 1}
    run = wait_for_state(result.id, "succeeded")
    assert JobRun.objects.filter(task_id=result.id).count() == 1
    assert run.attempt == 2
    assert [a["state"] for a in run.attempts] == ["retrying"]
    assert "first attempt asks for a retry" in run.attempts[0]["error"]


@worker
def test_a_transient_database_error_is_retried_with_backoff() -> None:
    result = transient_once.apply_async(("k1",), tenant=Tenant.objects.get(slug="globex"))
    assert result.get(timeout=WAIT) == "globex"
    run = wait_for_state(result.id, "succeeded")
    assert run.attempt == 2 and "server closed the connection" in run.attempts[0]["error"]


@worker
def test_progress_is_visible_while_the_job_runs() -> None:
    result = slow.apply_async((2.5,), tenant=Tenant.objects.get(slug="acme"))
    wait_for_state(result.id, "running")
    seen = set()
    while not result.ready():
        run = JobRun.objects.get(task_id=result.id)
        if run.progress_done:
            seen.add(run.progress_done)
        time.sleep(0.1)
    run = wait_for_state(result.id, "succeeded")
    assert (run.progress_done, run.progress_total) == (25, 25)
    # Throttled to one write a second: a 2.5 s job shows a few intermediate values, not 25.
    assert 1 <= len(seen - {25}) <= 4


@pytest.mark.django_db
def test_progress_writes_are_throttled_to_one_a_second() -> None:
    acme = Tenant.objects.get(slug="acme")
    jobs.jobrun_queued(task_id="t-progress", task_name="x", tenant_id=acme.pk, tenant_slug="acme",
                       schema_name="acme", args=[], kwargs={})  # fmt: skip
    jobs.jobrun_started(task_id="t-progress", worker="w", max_attempts=3)
    # celery-types gives push_request the task's own parameters; Celery takes Context fields.
    slow.push_request(id="t-progress", called_directly=False)  # type: ignore[call-arg]
    try:
        with CaptureQueriesContext(connection) as queries:
            for i in range(1, 200):
                slow.progress(i, 200, "working")
            slow.progress(200, 200, "done")
    finally:
        slow.pop_request()
    writes = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(writes) == 2  # the first call, and the final one
    run = JobRun.objects.get(task_id="t-progress")
    assert (run.progress_done, run.progress_message) == (200, "done")


@pytest.mark.django_db
def test_an_attempt_costs_two_jobrun_writes() -> None:
    """Driven through Celery's own tracer (what a worker runs), counting statements."""
    acme = Tenant.objects.get(slug="acme")
    jobs.jobrun_queued(task_id="t-count", task_name=record_schema.name, tenant_id=acme.pk,
                       tenant_slug="acme", schema_name="acme", args=[], kwargs={})  # fmt: skip
    trace = build_tracer(
        record_schema.name, record_schema, app=record_schema.app, eager=False, propagate=True
    )
    request: dict[str, Any] = {"id": "t-count", "tenant_id": acme.pk, "tenant_schema": "acme",
                               "hostname": "w", "delivery_info": {}}  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        trace("t-count", [0], {}, request)
    jobrun_writes = [
        q["sql"] for q in queries.captured_queries
        if "jobs_jobrun" in q["sql"] and q["sql"].startswith(("UPDATE", "INSERT"))
    ]  # fmt: skip
    assert len(jobrun_writes) == 2
    assert JobRun.objects.get(task_id="t-count").state == "succeeded"
    assert connection_schema() == "public"


@pytest.mark.django_db
def test_a_job_whose_attempts_keep_dying_is_given_up() -> None:
    jobs.jobrun_queued(task_id="t-dying", task_name="x", tenant_id=None, tenant_slug="",
                       schema_name="public", args=[], kwargs={})  # fmt: skip
    decisions = [
        jobs.jobrun_started(task_id="t-dying", worker="w", max_attempts=3)[0] for _ in range(4)
    ]
    assert [d.value for d in decisions] == ["run", "run", "run", "give_up"]
    run = JobRun.objects.get(task_id="t-dying")
    assert run.state == "failed" and run.error_type == "AttemptsExhausted"
    assert [a["state"] for a in run.attempts] == ["lost", "lost", "lost"]


@pytest.mark.django_db
def test_the_reaper_closes_running_rows_past_the_hard_limit(settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    jobs.jobrun_queued(task_id="t-stuck", task_name="x", tenant_id=None, tenant_slug="",
                       schema_name="public", args=[], kwargs={})  # fmt: skip
    jobs.jobrun_started(task_id="t-stuck", worker="w", max_attempts=3)
    assert jobs.jobruns_reap() == 0
    JobRun.objects.filter(task_id="t-stuck").update(
        started_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61)
    )
    assert jobs.jobruns_reap() == 1
    run = JobRun.objects.get(task_id="t-stuck")
    assert run.state == "lost" and run.attempts[-1]["state"] == "lost"


@pytest.mark.django_db
def test_old_finished_rows_are_pruned() -> None:
    from datetime import timedelta

    from django.utils import timezone

    for task_id, state, age in (
        ("old-done", "succeeded", 40),
        ("old-running", "running", 40),
        ("new", "succeeded", 1),
    ):
        jobs.jobrun_queued(task_id=task_id, task_name="x", tenant_id=None, tenant_slug="",
                           schema_name="public", args=[], kwargs={})  # fmt: skip
        JobRun.objects.filter(task_id=task_id).update(
            state=state, queued_at=timezone.now() - timedelta(days=age)
        )
    assert jobs.jobruns_prune(older_than_days=30) == 1
    assert set(JobRun.objects.values_list("task_id", flat=True)) == {"old-running", "new"}


@pytest.mark.django_db
def test_large_arguments_are_capped() -> None:
    jobs.jobrun_queued(task_id="t-big", task_name="x", tenant_id=None, tenant_slug="",
                       schema_name="public", args=["x" * 50_000], kwargs={})  # fmt: skip
    run = JobRun.objects.get(task_id="t-big")
    assert run.arguments_truncated and len(str(run.args)) < 20_000


@worker
def test_a_retry_asked_for_inside_a_transaction_is_still_sent() -> None:
    from tests.worker_tasks import retry_inside_atomic

    result = retry_inside_atomic.apply_async((7,), tenant=Tenant.objects.get(slug="acme"))
    # The first attempt's row was rolled back with its transaction; the retry wrote one.
    assert result.get(timeout=WAIT) == {"schema": "acme", "markers": [7]}
    run = wait_for_state(result.id, "succeeded")
    assert run.attempt == 2 and [a["state"] for a in run.attempts] == ["retrying"]


def _round_trips(run: Callable[[], object]) -> int:
    """Round trips to PostgreSQL while `run` runs: the server's ReadyForQuery messages in
    libpq's protocol trace (one per simple query, pipeline or extended-protocol sync)."""
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        try:
            run()
        finally:
            pgconn.untrace()
        trace.seek(0)
        return sum(1 for line in trace if "\tB\t" in line and "ReadyForQuery" in line)


@pytest.mark.django_db
def test_a_tracked_attempt_costs_one_round_trip_more_than_an_untracked_one() -> None:
    """Its "running" write carries the tenant's `SET search_path` (one round trip for both);
    only its "succeeded" write is extra. Round trips, not time: a loaded machine makes each one
    slow, and the worker's throughput follows their count."""
    acme = Tenant.objects.get(slug="acme")

    def attempt(task: Any, task_id: str) -> Callable[[], object]:
        trace = build_tracer(task.name, task, app=task.app, eager=False, propagate=True)
        request: dict[str, Any] = {"id": task_id, "tenant_id": acme.pk, "tenant_schema": "acme",
                                   "hostname": "w", "delivery_info": {}}  # fmt: skip
        return lambda: trace(task_id, [], {}, request)

    for task_id in ("t-rt-warm", "t-rt"):
        jobs.jobrun_queued(task_id=task_id, task_name=count_tracked.name, tenant_id=acme.pk,
                           tenant_slug="acme", schema_name="acme", args=[], kwargs={})  # fmt: skip
    attempt(count_untracked, "t-rt-untracked-warm")()  # the tenant cache, the prepared statements
    attempt(count_tracked, "t-rt-warm")()
    untracked = _round_trips(attempt(count_untracked, "t-rt-untracked"))
    tracked = _round_trips(attempt(count_tracked, "t-rt"))
    assert tracked == untracked + 1
    assert JobRun.objects.get(task_id="t-rt").state == "succeeded"
    assert connection_schema() == "public"
