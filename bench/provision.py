"""Provisioning speed: the template fast path against running migrations, interleaved.

For each of N tenants per path, the timer runs from calling `tenant_provision` to its return
(tenant row, domain, owner membership, default rows, schema). No schema is pre-built: the
template is SQL text, captured once before the loop and reported separately. The two paths
alternate (fast, slow, slow, fast, …) so drift on the machine hits both equally.

Usage: python bench/provision.py [--tenants 100]
Last line: {"fast_s_per_tenant": …, "migrate_s_per_tenant": …, "speedup": …}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import bench_database_create, bench_database_drop, pg_major

DB_NAME = "saas_bench_provision"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100, help="tenants per path")
    args = parser.parse_args()

    bench_database_create(DB_NAME)
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from tenants import provisioning
    from tenants.services import public_tenant_ensure, tenant_provision

    for name in ("tenants", "jobs", "beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domain="localhost")
        owner = User.objects.create_user("owner", "owner@example.com", "x")

        started = time.perf_counter()
        provisioning.schema_template_build(provisioning.migration_state_key())
        template_s = time.perf_counter() - started

        times: dict[str, list[float]] = {"template": [], "migrations": []}
        for i in range(args.tenants):
            order = [True, False] if i % 2 == 0 else [False, True]
            for fast in order:
                slug = f"{'fast' if fast else 'slow'}-{i:04d}"
                t0 = time.perf_counter()
                result = tenant_provision(name=slug, slug=slug, owner=owner, fast=fast)
                times[result.path].append(time.perf_counter() - t0)
                if result.path != ("template" if fast else "migrations"):
                    raise SystemExit(f"{slug} took the {result.path} path")

        fast_s = statistics.mean(times["template"])
        slow_s = statistics.mean(times["migrations"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname ~ '^(fast|slow)_'")
            (schemas,) = cursor.fetchone()
        major = pg_major()
        print(f"PostgreSQL {major}, {args.tenants} tenants per path, {schemas} schemas made")
        print(f"template build (once, not in the per-tenant figures): {template_s:.3f} s")
        print(f"{'path':<12} {'mean s':>8} {'median s':>9} {'p95 s':>8}")
        for name, values in times.items():
            p95 = sorted(values)[int(len(values) * 0.95) - 1]
            mean, median = statistics.mean(values), statistics.median(values)
            print(f"{name:<12} {mean:>8.4f} {median:>9.4f} {p95:>8.4f}")
        print(f"speedup (migrations / template): {slow_s / fast_s:.1f}x")
        connection.close()
    finally:
        bench_database_drop(DB_NAME)
    print(json.dumps({
        "fast_s_per_tenant": round(fast_s, 4),
        "migrate_s_per_tenant": round(slow_s, 4),
        "speedup": round(slow_s / fast_s, 2),
        "template_build_s": round(template_s, 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
