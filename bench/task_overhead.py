"""What the tenant task base costs, against a plain Celery task and tenant-schemas-celery.

Variants: (a) a plain Celery task, (b) our tenant task without JobRun, (c) our tenant task
with JobRun, (d) tenant-schemas-celery's TenantTask. Each runs the same ORM query on a table
every schema has (django-celery-beat's IntervalSchedule), spread over 50 tenants.

- Throughput: N tasks queued first, then one prefork worker (concurrency 2) started; from the
  first task start to the last finish, from worker-side timestamps.
- Latency: send → finish at a steady rate of half of (a)'s throughput; p50 and p95.
- In-process cost: each variant driven through Celery's tracer without a broker (so (d)'s
  signals fire), in a fresh process per variant; median µs per task above the bare query.
Three rounds, variant order rotated each round; medians reported. Own database and Redis db.

Usage: python bench/task_overhead.py [--tasks 2000] [--rounds 3]
Last line: {"b_over_a", "c_over_a", "b_over_d", "b_us", "c_us", "d_us", ...}
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import bench_database_create, bench_database_drop  # noqa: E402

if TYPE_CHECKING:
    import redis

DB_NAME = "saas_bench_tasks"
# Its own Redis db (flushed by every run): BENCH_REDIS_DB moves it off a db someone else uses.
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "14"))
TENANTS = 50
VARIANTS = ["a", "b", "c", "d"]
LABELS = {
    "a": "plain Celery task",
    "b": "tenant task, no JobRun",
    "c": "tenant task + JobRun",
    "d": "tenant-schemas-celery",
}


def bench_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


# --- in-process cost (run in a child process per variant) -----------------------------------
def inprocess(variant: str, n: int) -> None:
    os.environ["BENCH_NO_RECORD"] = "1"
    import django

    django.setup()
    from celery.app.trace import build_tracer
    from celery.signals import worker_process_init

    # As a pool process starts: its connections commit as a worker's do (jobs.worker).
    worker_process_init.send(sender=None)

    from tenants.context import connection_tenant_set
    from tenants.models import Tenant

    tenants = list(Tenant.objects.exclude(schema_name="public").order_by("pk")[:TENANTS])
    if variant == "d":
        from bench.tasks_peer import peer as task
    else:
        from bench import tasks_ours

        task = {
            "a": tasks_ours.plain,
            "b": tasks_ours.tenant_untracked,
            "c": tasks_ours.tenant_tracked,
        }[variant]
    task.ignore_result = True
    trace = build_tracer(task.name, task, app=task.app, eager=False, propagate=True)

    from bench.tasks_ours import the_query

    connection_tenant_set(tenants[0])
    for _ in range(50):
        the_query()
    bare = []
    for _ in range(n):
        t0 = time.perf_counter()
        the_query()
        bare.append(time.perf_counter() - t0)
    connection_tenant_set(None)

    requests: list[dict[str, Any]] = []
    for i in range(n):
        tenant = tenants[i % len(tenants)]
        request: dict[str, Any] = {
            "id": f"bench-{variant}-{i}",
            "delivery_info": {},
            "hostname": "bench",
        }
        if variant in "bc":
            request |= {"tenant_id": tenant.pk, "tenant_schema": tenant.schema_name}
        if variant == "d":
            request |= {
                "_schema_name": tenant.schema_name,
                "headers": {"_schema_name": tenant.schema_name},
            }
        requests.append(request)
    if variant == "c":
        from jobs import bookkeeping as jobs

        for request in requests:
            jobs.jobrun_queued(task_id=request["id"], task_name=task.name, tenant_id=request["tenant_id"],
                               tenant_slug="", schema_name=request["tenant_schema"], args=[], kwargs={})  # fmt: skip
    no_args: list[Any] = []  # the tracer only unpacks it (`fun(*args)`)
    for request in requests[:50]:  # warm up: caches, prepared connection
        trace(request["id"] + "-warm", no_args, {}, request)
    timings = []
    for request in requests:
        t0 = time.perf_counter()
        trace(request["id"], no_args, {}, request)
        timings.append(time.perf_counter() - t0)
    overhead_us = (statistics.median(timings) - statistics.median(bare)) * 1e6
    print(
        json.dumps(
            {
                "variant": variant,
                "us": round(overhead_us, 1),
                "bare_us": round(statistics.median(bare) * 1e6, 1),
            }
        )
    )


# --- throughput and latency (a worker subprocess per run) -----------------------------------
class Worker:
    def __init__(self, variant: str) -> None:
        app = "bench.tasks_peer" if variant == "d" else "saas"
        command = [sys.executable, "-m", "celery", "-A", app, "worker", "-P", "prefork", "-c", "2",
                   "-Q", "bench", "-n", f"bench-{variant}@%h", "--loglevel", "WARNING",
                   "--without-mingle", "--without-gossip", "--without-heartbeat"]  # fmt: skip
        if variant != "d":
            command += ["-I", "bench.tasks_ours"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=bench_env(), start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


def sender(variant: str) -> Callable[..., object]:
    """send(i, sent_at=0.0): queue task number i (for tenant i modulo the tenant count)."""
    from django_tenants.utils import schema_context

    from jobs.headers import tenant_ref
    from tenants.models import Tenant

    tenants = list(Tenant.objects.exclude(schema_name="public").order_by("pk")[:TENANTS])
    refs = [tenant_ref(t) for t in tenants]
    if variant == "d":
        from bench.tasks_peer import peer

        def send(i: int, sent_at: float = 0.0) -> None:
            with schema_context(tenants[i % len(tenants)].schema_name):
                peer.apply_async(kwargs={"sent_at": sent_at}, queue="bench")

        return send
    from bench import tasks_ours

    if variant == "a":
        return lambda i, sent_at=0.0: tasks_ours.plain.apply_async(
            kwargs={"sent_at": sent_at}, queue="bench"
        )
    task = tasks_ours.tenant_untracked if variant == "b" else tasks_ours.tenant_tracked
    return lambda i, sent_at=0.0: task.apply_async(
        kwargs={"sent_at": sent_at}, tenant=refs[i % len(refs)], queue="bench"
    )


def wait_for(client: redis.Redis, count: int, timeout: float = 600) -> None:
    from bench.timing import KEY

    deadline = time.monotonic() + timeout
    while client.llen(KEY) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {client.llen(KEY)} of {count} tasks finished")
        time.sleep(0.05)


def run_variant(
    variant: str, n: int, latency_n: int, rate: float | None, client: redis.Redis
) -> dict[str, float]:
    from bench.timing import collect
    from jobs.models import JobRun

    client.flushdb()
    JobRun.objects.all().delete()
    send = sender(variant)
    for i in range(n):
        send(i)
    worker = Worker(variant)
    try:
        wait_for(client, n)
        rows = collect(client)
        throughput = n / (max(r[1] for r in rows) - min(r[0] for r in rows))
        result = {"throughput": throughput}
        if rate:
            client.flushdb()
            start = time.perf_counter()
            for i in range(latency_n):
                target = start + i / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                send(i, time.time())
            wait_for(client, latency_n)
            latencies = sorted(r[1] - r[2] for r in collect(client))
            result["p50_ms"] = statistics.median(latencies) * 1000
            result["p95_ms"] = latencies[int(len(latencies) * 0.95) - 1] * 1000
        return result
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--latency-tasks", type=int, default=400)
    parser.add_argument("--inprocess-tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inprocess", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.inprocess:
        inprocess(args.inprocess, args.inprocess_tasks)
        return

    bench_database_create(DB_NAME)
    from saas.env import redis_url_with_db

    os.environ["REDIS_URL"] = redis_url_with_db(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), REDIS_DB
    )
    import django

    django.setup()
    import logging

    import redis
    from django.core.management import call_command

    from tenants.services import public_tenant_ensure, tenant_provision

    for name in ("tenants", "jobs", "beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domain="localhost")
        for i in range(TENANTS):
            tenant_provision(name=f"Bench {i}", slug=f"bench-{i:03d}")
        print(
            f"{TENANTS} tenants, {args.tasks} tasks per throughput run, {args.rounds} rounds",
            flush=True,
        )

        warm = run_variant("a", args.tasks, 0, None, client)
        rate = warm["throughput"] / 2
        print(
            f"latency send rate: {rate:.0f} tasks/s (half of (a)'s warm-up throughput)", flush=True
        )
        results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        inproc: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for rnd in range(args.rounds):
            order = VARIANTS[rnd % 4 :] + VARIANTS[: rnd % 4]
            for variant in order:
                results[variant].append(
                    run_variant(variant, args.tasks, args.latency_tasks, rate, client)
                )
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--inprocess",
                        variant,
                        "--inprocess-tasks",
                        str(args.inprocess_tasks),
                    ],
                    env=bench_env(),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                inproc[variant].append(json.loads(out.stdout.strip().splitlines()[-1])["us"])
                print(f"  round {rnd + 1} {variant}: {results[variant][-1]['throughput']:.0f} tasks/s, "
                      f"p50 {results[variant][-1]['p50_ms']:.1f} ms, in-process {inproc[variant][-1]:.0f} µs", flush=True)  # fmt: skip
    finally:
        from django.db import connection

        connection.close()
        client.flushdb()
        bench_database_drop(DB_NAME)

    med = {
        v: {k: statistics.median(r[k] for r in results[v]) for k in results[v][0]} for v in VARIANTS
    }
    us = {v: statistics.median(inproc[v]) for v in VARIANTS}
    print()
    print(f"{'variant':<28} {'tasks/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'µs/task':>9}")
    for v in VARIANTS:
        print(
            f"({v}) {LABELS[v]:<24} {med[v]['throughput']:>9.0f} {med[v]['p50_ms']:>8.1f} {med[v]['p95_ms']:>8.1f} {us[v]:>9.0f}"
        )

    # Each ratio is the median of the per-round ratios: a round measures the variants minutes
    # apart, so pairing within a round cancels slow drifts of this shared 2-core machine. The
    # ratio of the median throughputs is printed too.
    def paired(x: str, y: str) -> float:
        return statistics.median(
            rx["throughput"] / ry["throughput"]
            for rx, ry in zip(results[x], results[y], strict=True)
        )

    ratios = {
        "b_over_a": paired("b", "a"),
        "c_over_a": paired("c", "a"),
        "b_over_d": paired("b", "d"),
    }
    for x, y in (("b", "a"), ("c", "a"), ("b", "d")):
        per_round = ", ".join(
            f"{rx['throughput'] / ry['throughput']:.3f}"
            for rx, ry in zip(results[x], results[y], strict=True)
        )
        print(
            f"{x}/{y} per round: {per_round}; ratio of medians {med[x]['throughput'] / med[y]['throughput']:.3f}"
        )
    print(f"throughput b/a {ratios['b_over_a']:.3f} (target ≥ 0.95), c/a {ratios['c_over_a']:.3f}, "
          f"b/d {ratios['b_over_d']:.3f} (target ≥ 1.0); in-process b {us['b']:.0f} µs vs d {us['d']:.0f} µs "
          f"(target b ≤ d/2)")  # fmt: skip
    print(json.dumps({
        **{k: round(v, 3) for k, v in ratios.items()},
        "b_us": round(us["b"], 1), "c_us": round(us["c"], 1), "d_us": round(us["d"], 1),
        "a_us": round(us["a"], 1),
        **{f"{v}_tasks_per_s": round(med[v]["throughput"], 1) for v in VARIANTS},
        **{f"{v}_p50_ms": round(med[v]["p50_ms"], 2) for v in VARIANTS},
        **{f"{v}_p95_ms": round(med[v]["p95_ms"], 2) for v in VARIANTS},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
