"""Time limits, terminate, and killed workers, on a real prefork worker subprocess."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule
from django_tenants.utils import schema_context

from jobs import services
from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import wait_for_state
from tests.prefork import PreforkWorker
from tests.worker_tasks import (
    backend_pid,
    commit_mode,
    overruns_soft_limit,
    platform_schema,
    slow,
)

pytestmark = [pytest.mark.usefixtures("live_db"), pytest.mark.subprocess]


def completions(schema: str, marker: int) -> int:
    with schema_context(schema):
        return IntervalSchedule.objects.filter(every=marker, period="days").count()


def test_a_soft_time_limit_fails_the_job_and_restores_the_schema() -> None:
    with PreforkWorker() as worker:
        result = overruns_soft_limit.apply_async(
            tenant=Tenant.objects.get(slug="acme"), queue=worker.queue
        )
        run = wait_for_state(result.id, "failed")
        assert run.error_type == "SoftTimeLimitExceeded"
        # The same pool process runs the next job, in public: the schema was restored.
        after = platform_schema.apply_async(queue=worker.queue)
        assert after.get(timeout=20)["schema"] == "public"


def test_terminate_kills_a_running_job_and_it_does_not_come_back() -> None:
    with PreforkWorker() as worker:
        result = slow.apply_async(
            (8, 501), tenant=Tenant.objects.get(slug="acme"), queue=worker.queue
        )
        run = wait_for_state(result.id, "running")
        services.jobrun_revoke(run=run, terminate=True)
        wait_for_state(result.id, "revoked")
        time.sleep(9)
        assert completions("acme", 501) == 0
        assert JobRun.objects.get(pk=run.pk).state == "revoked"


def test_a_killed_pool_child_is_requeued_at_once_and_completes_once() -> None:
    with PreforkWorker() as worker:
        result = slow.apply_async(
            (2, 502), tenant=Tenant.objects.get(slug="globex"), queue=worker.queue
        )
        wait_for_state(result.id, "running")
        time.sleep(0.5)
        (child,) = worker.pool_children()
        os.kill(child.pid, signal.SIGKILL)
        assert result.get(timeout=30) == {"schema": "globex"}
        run = wait_for_state(result.id, "succeeded")
    assert completions("globex", 502) == 1 and completions("acme", 502) == 0
    assert run.attempt == 2
    assert [a["state"] for a in run.attempts] == ["lost"]
    assert "worker process lost" in run.attempts[0]["error"]


def test_a_killed_pool_childs_job_runs_next_not_behind_the_backlog() -> None:
    acme = Tenant.objects.get(slug="acme")
    with PreforkWorker() as worker:
        hit = slow.apply_async((2, 504), tenant=acme, queue=worker.queue)
        backlog = [
            slow.apply_async((0.1, 600 + i), tenant=acme, queue=worker.queue).id for i in range(15)
        ]
        wait_for_state(hit.id, "running")
        time.sleep(0.3)
        (child,) = worker.pool_children()
        os.kill(child.pid, signal.SIGKILL)
        run = wait_for_state(hit.id, "succeeded")
        for task_id in backlog:
            wait_for_state(task_id, "succeeded")
    assert run.attempt == 2 and completions("acme", 504) == 1
    ahead = JobRun.objects.filter(task_id__in=backlog, started_at__lt=run.started_at).count()
    # The one message the worker had prefetched may go first; the other 14 wait for it. Put
    # back on its queue (Celery's own requeue), it would have run after all 15.
    assert ahead <= 1, f"{ahead} of the backlog ran before the killed job's second attempt"


def test_a_killed_main_process_is_redelivered_after_the_visibility_timeout() -> None:
    short_timeouts = {
        "CELERY_VISIBILITY_TIMEOUT_S": "4", "CELERY_MAX_TASK_DELAY_S": "2",
        "CELERY_TASK_SOFT_TIME_LIMIT_S": "2", "CELERY_TASK_TIME_LIMIT_S": "3",
    }  # fmt: skip
    first = PreforkWorker(**short_timeouts).start()
    try:
        result = slow.apply_async(
            (1.5, 503), tenant=Tenant.objects.get(slug="acme"), queue=first.queue
        )
        wait_for_state(result.id, "running")
        first.kill_all()
    finally:
        first.stop()
    assert JobRun.objects.get(task_id=result.id).state == "running"  # nobody could record it
    started = time.monotonic()
    with PreforkWorker(queue=first.queue, **short_timeouts):
        assert result.get(timeout=40) == {"schema": "acme"}
        run = wait_for_state(result.id, "succeeded")
    assert time.monotonic() - started >= 2  # not before the visibility timeout ran out
    assert completions("acme", 503) == 1
    assert run.attempt == 2 and [a["state"] for a in run.attempts] == ["lost"]
    connection.close()


def test_a_hard_time_limit_closes_the_job_as_lost() -> None:
    from tests.worker_tasks import ignores_soft_limit

    with PreforkWorker() as worker:
        result = ignores_soft_limit.apply_async(
            tenant=Tenant.objects.get(slug="globex"), queue=worker.queue
        )
        run = wait_for_state(result.id, "lost")
        assert run.error_type == "TimeLimitExceeded" and "hard time limit" in run.error_message
        # The pool replaced the killed process; the next job runs (in public, as declared).
        assert platform_schema.apply_async(queue=worker.queue).get(timeout=20)["schema"] == "public"
    assert JobRun.objects.get(pk=run.pk).attempt == 1


def test_worker_processes_commit_as_the_setting_says() -> None:
    """JOBS_WORKER_SYNCHRONOUS_COMMIT, off by default, in the pool's connections."""
    with PreforkWorker() as worker:
        assert commit_mode.apply_async(queue=worker.queue).get(timeout=20) == "off"
    with PreforkWorker(JOBS_WORKER_SYNCHRONOUS_COMMIT="on") as worker:
        assert commit_mode.apply_async(queue=worker.queue).get(timeout=20) == "on"


def test_a_pool_process_keeps_its_database_connection_from_job_to_job() -> None:
    """One connection per pool process, kept as a web process keeps its own (CONN_MAX_AGE),
    not a new one per job (Celery's Django fixup closed it around every task). One that died
    between jobs is replaced by the next job, which is recorded as usual."""
    with PreforkWorker() as worker:
        pids = [backend_pid.apply_async(queue=worker.queue).get(timeout=20) for _ in range(3)]
        assert len(set(pids)) == 1 and pids[0] > 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
        result = backend_pid.apply_async(queue=worker.queue)
        assert result.get(timeout=30) not in (0, pids[0])
        assert wait_for_state(result.id, "succeeded").attempt == 1
