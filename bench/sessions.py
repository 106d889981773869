"""Session cleanup: ours (batched, usersessions.services.sessions_cleanup) against the statement
Django's `clearsessions` runs (`DELETE FROM <table> WHERE expire_date < now()`), on one tenant's
session table.

Before every run the table is loaded the same way — 1,000,000 expired and 100,000 live sessions,
interleaved (one live row after every ten expired), with realistic row sizes — then
`VACUUM ANALYZE` and `CHECKPOINT`. Three runs of each, alternating (ours, baseline, baseline,
ours, …) so drift on the machine hits both. Reports the median wall time of each, the longest
single statement of ours, and whether every live key survived.

Usage: python bench/sessions.py [--expired 1000000] [--live 100000] [--runs 3]
Last line: {"ours_s": …, "clearsessions_s": …, "ratio": …, "max_statement_s": …, "live_kept": …}
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import bench_database_create, bench_database_drop, pg_major

DB_NAME = "saas_bench_sessions"
SCHEMA = "bench"
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expired", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant")
    args = parser.parse_args()
    if args.live < 1 or args.expired % args.live:
        raise SystemExit("--expired must be a multiple of --live (rows are interleaved)")
    every = args.expired // args.live + 1  # row i is live when i % every == 0
    total = args.live * every

    bench_database_create(DB_NAME)
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection

    from tenants.services import public_tenant_ensure, tenant_provision
    from usersessions.cleanup import session_table
    from usersessions.services import sessions_cleanup

    for name in ("tenants", "jobs", "beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    table = session_table(SCHEMA)

    def sql(statement: str, params: Sequence[str | int] | None = None) -> list[tuple[object, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def load() -> None:
        sql(f"TRUNCATE {table}")
        sql(
            f"INSERT INTO {table} (session_key, session_data, expire_date, created_at, user_id, "
            f"ip_address, user_agent) "
            f"SELECT md5(i::text), repeat(md5((i * 7)::text), 5), e, e - interval '14 days', "
            f"i %% 5000, ('10.' || i %% 256 || '.' || i / 256 %% 256 || '.1')::inet, %s "
            f"FROM generate_series(1, %s) i, LATERAL (SELECT CASE WHEN i %% %s = 0 "
            f"THEN now() + interval '1 hour' + (i %% 20160) * interval '1 minute' "
            f"ELSE now() - interval '1 hour' - (i %% 43200) * interval '1 minute' END) AS x(e)",
            [USER_AGENT, total, every],
        )
        sql(f"VACUUM ANALYZE {table}")
        sql("CHECKPOINT")

    def live_kept() -> int:
        return sql(
            f"SELECT count(*) FROM generate_series(1, %s) i "
            f"JOIN {table} s ON s.session_key = md5(i::text) WHERE i %% %s = 0",
            [total, every],
        )[0][0]  # type: ignore[return-value]

    def ours() -> dict[str, Any]:
        return sessions_cleanup(schema_name=SCHEMA)

    def clearsessions() -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE expire_date < now()")
            return {"deleted": cursor.rowcount, "statements": 1}

    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domain="localhost")
        tenant_provision(name="Bench", slug=SCHEMA)
        rows: list[tuple[int, str, float, dict[str, Any], int]] = []
        for run in range(args.runs):
            order = [ours, clearsessions] if run % 2 == 0 else [clearsessions, ours]
            for variant in order:
                load()
                started = time.perf_counter()
                result = variant()
                elapsed = time.perf_counter() - started
                rows.append((run + 1, variant.__name__, elapsed, result, live_kept()))
        (size,) = sql(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))")[0]
        major = pg_major()
        connection.close()
    finally:
        bench_database_drop(DB_NAME)

    print(
        f"PostgreSQL {major}; {args.expired:,} expired + {args.live:,} live sessions per run "
        f"(table after the last run: {size}); {args.runs} runs each, alternating"
    )
    print(f"{'run':>3} {'variant':<14} {'wall s':>7} {'statements':>10} {'max stmt s':>10} "
          f"{'deleted':>9} {'live kept':>9}")  # fmt: skip
    for run, name, elapsed, result, kept in rows:
        max_stmt = result.get("max_statement_s", elapsed)
        print(f"{run:>3} {name:<14} {elapsed:>7.3f} {result['statements']:>10} "
              f"{max_stmt:>10.3f} {result['deleted']:>9,} {kept:>9,}")  # fmt: skip
    ours_s = statistics.median(r[2] for r in rows if r[1] == "ours")
    base_s = statistics.median(r[2] for r in rows if r[1] == "clearsessions")
    max_statement = max(r[3]["max_statement_s"] for r in rows if r[1] == "ours")
    kept = all(r[4] == args.live for r in rows if r[1] == "ours")
    print(f"median: ours {ours_s:.3f} s, clearsessions {base_s:.3f} s, ratio {ours_s / base_s:.2f}")
    print(json.dumps({
        "ours_s": round(ours_s, 3),
        "clearsessions_s": round(base_s, 3),
        "ratio": round(ours_s / base_s, 3),
        "max_statement_s": round(max_statement, 3),
        "live_kept": kept,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
