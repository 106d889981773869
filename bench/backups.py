"""Backups: ours (backups.services.backup_create: the template's DDL, COPY from one snapshot,
sha256 of every part, zstd, optionally age) against `pg_dump -Fc -n` (its default compression),
and our load (backups.archive.archive_load into a scratch schema) against `pg_restore` of that
dump (into a scratch database: pg_restore cannot rename a schema), in one run, on one database.

1. A ~500 MB tenant schema, filled in the tenant's real tables (portal sessions, periodic tasks
   with their crontabs, report recipients), so the normal path (template) is measured: backup
   throughput ours / pg_dump's, plain and encrypted; restore throughput ours / pg_restore's;
   our peak RSS. Then the schema doubled (~1 GB): peak RSS again (rss_growth).
2. Tenant-count scaling: one small tenant's backup time with 2 tenants in the database and with
   1,000 (each the real tenant schema, 10 tables); ours and pg_dump's (median of 5).
3. A nightly pass: every one of the 1,000 small tenants backed up in turn, ours against
   sequential `pg_dump -Fc -n` of the same tenants.

Each of our measurements runs in a fresh child process (this script with --child), so its peak
RSS (ru_maxrss) is that of the backup alone, Django included.

Usage: python bench/backups.py [--size-mb 500] [--tenants 1000]
Last line: {"backup_ratio": …, "backup_enc_ratio": …, "restore_ratio": …, "rss_mb": …,
"rss_growth": …, "scale_ratio": …, "peer_scale_ratio": …, "nightly_1000_s": …,
"peer_nightly_1000_s": …}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import bench_database_create, bench_database_drop, pg_major  # noqa: E402

DB_NAME = "saas_bench_backups"
PEER_DB = "saas_bench_backups_peer"
BIG = "bigco"


# --- Child: one measurement of ours, in a fresh process --------------------------------------
def _child(spec: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection

    from backups.archive import archive_load
    from backups.models import Backup
    from backups.services import backup_create
    from tenants.models import Tenant

    Tenant.objects.exists()  # connected: what the process holds before any backup
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result: dict[str, Any] = {}
    if spec["do"] == "backup":
        tenant = Tenant.objects.get(slug=spec["slug"])
        times = []
        for _ in range(spec.get("repeat", 1)):
            started = time.perf_counter()
            backup = backup_create(tenant, kind="manual")
            times.append(time.perf_counter() - started)
            if backup.state != Backup.State.SUCCEEDED:
                raise SystemExit(f"backup failed: {backup.error}")
        assert backup.artifact is not None
        result = {"times": times, "size": backup.size, "method": backup.method,
                  "encrypted": backup.encrypted, "key": backup.artifact.storage_key}  # fmt: skip
    elif spec["do"] == "restore":
        started = time.perf_counter()
        with open(spec["path"], "rb") as source:
            manifest = archive_load(source, spec["schema"])
        result = {"times": [time.perf_counter() - started], "tables": len(manifest.tables)}
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{spec["schema"]}" CASCADE')
    elif spec["do"] == "nightly":
        tenants = list(Tenant.objects.filter(slug__startswith="small-").order_by("slug"))
        started = time.perf_counter()
        for tenant in tenants:
            backup = backup_create(tenant, kind="scheduled")
            if backup.state != Backup.State.SUCCEEDED:
                raise SystemExit(f"backup of {tenant.slug} failed: {backup.error}")
        result = {"times": [time.perf_counter() - started], "tenants": len(tenants)}
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["baseline_mb"] = baseline
    return result


def ours(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"child {spec} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- Peer ------------------------------------------------------------------------------------
def _pg(tool: str, *args: str, db: str = DB_NAME) -> float:
    from django.db import connection

    from saas.pg import pg_tool_path

    settings = connection.settings_dict
    command = [pg_tool_path(tool, pg_major()), *args, "--dbname", db,
               "--host", str(settings["HOST"] or "127.0.0.1"),
               "--port", str(settings["PORT"] or 5432),
               "--username", str(settings["USER"] or "postgres")]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def pg_dump(schema: str, path: str) -> float:
    return _pg("pg_dump", "-Fc", "-n", schema, "-f", path)


# --- Data ------------------------------------------------------------------------------------
def fill(schema: str, megabytes: int) -> None:
    """Rows in the tenant's real tables until its heap holds about `megabytes` more: sessions
    (most of a tenant's bytes in practice), periodic tasks with crontabs, report recipients."""
    from django.db import connection

    target = megabytes * 1024 * 1024
    with connection.cursor() as cursor:

        def size() -> int:
            cursor.execute(
                "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r'",
                [schema],
            )
            return int(cursor.fetchone()[0])

        goal = size() + target
        cursor.execute(f'SELECT count(*) FROM "{schema}".usersessions_session')
        first = int(cursor.fetchone()[0])
        batch = 0
        while size() < goal:
            base = first + batch * 100_000
            # Session data as Django signs it: base64-ish text of random content.
            cursor.execute(f"""
                INSERT INTO "{schema}".usersessions_session
                  (session_key, session_data, expire_date, created_at, user_id, ip_address,
                   user_agent)
                SELECT 'k' || lpad(i::text, 31, '0'),
                       translate(encode(decode(md5(random()::text) || md5(random()::text)
                         || md5(random()::text) || md5(random()::text) || md5(random()::text)
                         || md5(random()::text), 'hex'), 'base64'), E'\\n', ''),
                       now() + (i % 30) * interval '1 day', now() - (i % 90) * interval '1 day',
                       i % 5000, ('203.0.113.' || (i % 250))::inet, 'Mozilla/5.0 (X11; Linux x86_64) ' ||
                       'AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1' || (i % 40) || '.0 Safari'
                FROM generate_series({base}, {base} + 99999) AS i""")
            cursor.execute(f"""
                WITH c AS (
                  INSERT INTO "{schema}".django_celery_beat_crontabschedule
                    (minute, hour, day_of_week, day_of_month, month_of_year, timezone)
                  SELECT (i % 60)::text, (i % 24)::text, '*', '*', '*', 'Europe/Paris'
                  FROM generate_series(1, 20000) AS i RETURNING id)
                INSERT INTO "{schema}".django_celery_beat_periodictask
                  (name, task, args, kwargs, queue, exchange, routing_key, expires, enabled,
                   last_run_at, total_run_count, date_changed, description, crontab_id,
                   one_off, start_time, priority, headers, expire_seconds)
                SELECT 'job-' || c.id, 'reports.tasks.report_generate_task', '[]',
                       '{{"kind": "activity", "note": "' || md5(c.id::text) || '"}}',
                       NULL, NULL, NULL, NULL, true, now(), c.id % 100, now(),
                       'nightly report ' || c.id, c.id, false, NULL, NULL, '{{}}', NULL
                FROM c""")
            cursor.execute(f"""
                INSERT INTO "{schema}".reports_reportrecipient (email, created_at)
                SELECT 'person' || i || '-{base}@example.com', now()
                FROM generate_series(1, 2000) AS i""")
            batch += 1
    # Hint bits set and statistics taken now, so that the first reader (whichever it is)
    # does not pay for them.
    with connection.cursor() as cursor:
        for table in ("usersessions_session", "django_celery_beat_periodictask",
                      "django_celery_beat_crontabschedule", "reports_reportrecipient"):  # fmt: skip
            cursor.execute(f'VACUUM ANALYZE "{schema}".{table}')
        cursor.execute("CHECKPOINT")


def quiesce() -> None:
    """Catalog statistics current and no autovacuum running: a measurement right after making
    hundreds of schemas would otherwise time the catalog's upkeep, not the backup."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, "
                       "pg_catalog.pg_depend, pg_catalog.pg_type, pg_catalog.pg_index, "
                       "pg_catalog.pg_constraint, pg_catalog.pg_attrdef")  # fmt: skip
        cursor.execute("CHECKPOINT")
        for _ in range(60):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                           "'autovacuum worker' AND datname = current_database()")  # fmt: skip
            if not cursor.fetchone()[0]:
                break
            time.sleep(1)


def data_bytes(schema: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            [schema],
        )
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--peer-sample", type=int, default=10,
                        help="pg_dump every Nth tenant in the nightly pass, scaled up")  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return

    bench_database_create(DB_NAME)
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection

    from backups import age
    from tenants import provisioning
    from tenants.services import public_tenant_ensure, tenant_provision

    for name in ("tenants", "jobs", "beat", "backups"):
        logging.getLogger(name).setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench-backups-"))
    env = {**os.environ, "ARTIFACTS_ROOT": str(work / "artifacts"), "ARTIFACTS_QUOTA_MB": "100000"}
    figures: dict[str, Any] = {}
    wall = time.perf_counter()
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domain="localhost")
        provisioning.schema_template_build(provisioning.migration_state_key())

        # 2. Scaling, first part: two tenants.
        for i in range(2):
            tenant_provision(name=f"small-{i:04d}", slug=f"small-{i:04d}")
        small = "small_0000"

        def scale_point() -> tuple[float, float]:
            """Medians, ours and pg_dump's taking turns (a burst of load hits both)."""
            quiesce()
            mine: list[float] = []
            peer: list[float] = []
            for _ in range(3):
                mine += ours({"do": "backup", "slug": "small-0000", "repeat": 4}, env)["times"][1:]
                peer += [pg_dump(small, str(work / "small.dump")) for _ in range(3)]
            return statistics.median(mine), statistics.median(peer)

        ours_2, peer_2 = scale_point()
        print(f"small tenant, 2 tenants:      ours {ours_2:.3f} s   pg_dump {peer_2:.3f} s")

        # 1. Size.
        tenant_provision(name="Big Co", slug=BIG)
        fill(BIG, args.size_mb)
        size_500 = data_bytes(BIG)
        dump = str(work / "big.dump")
        key_env = {**env, "BACKUP_PLATFORM_KEY": age.identity_generate()}
        # Each measured two or three times, alternating, the fastest kept: the machine is
        # shared, and a pause elsewhere should not decide a ratio.
        peer_backups, plains, encrypteds, peer_restores, restores = [], [], [], [], []
        for _ in range(2):
            peer_backups.append(pg_dump(BIG, dump))
            plains.append(ours({"do": "backup", "slug": BIG}, env))
        # Encrypted last: once the tenant has a key, a cleartext backup of it is refused.
        for _ in range(2):
            encrypteds.append(ours({"do": "backup", "slug": BIG}, key_env))
        for _ in range(3):
            # Each restore starts after a checkpoint: none pays for the WAL of the one before.
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{PEER_DB}"')
                cursor.execute(f'CREATE DATABASE "{PEER_DB}"')
                cursor.execute("CHECKPOINT")
            peer_restores.append(_pg("pg_restore", dump, db=PEER_DB))
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
            restores.append(ours({"do": "restore", "path": str(work / "artifacts" / plains[0]["key"]),
                                  "schema": "restore_scratch"}, env))  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{PEER_DB}"')
        plain = min(plains, key=lambda r: r["times"][0])
        encrypted = min(encrypteds, key=lambda r: r["times"][0])
        restore = min(restores, key=lambda r: r["times"][0])
        assert plain["method"] == "template" and encrypted["encrypted"]
        peer_backup, peer_restore = min(peer_backups), min(peer_restores)
        ours_backup, ours_enc, ours_restore = (
            plain["times"][0], encrypted["times"][0], restore["times"][0],
        )  # fmt: skip
        rss_mb = max(r["rss_mb"] for r in (*plains, *encrypteds, *restores))
        mb = size_500 / 1e6
        print(f"\n{BIG}: {mb:.0f} MB of table data; pg_dump -Fc {os.path.getsize(dump) / 1e6:.0f} MB,"
              f" ours {plain['size'] / 1e6:.0f} MB (.tar.zst), {encrypted['size'] / 1e6:.0f} MB (.age)")  # fmt: skip
        print(
            f"our process before the backup (Django, connected): {plain['baseline_mb']:.0f} MB RSS"
        )
        print(f"{'':<22}{'s':>8}{'MB/s':>9}{'peak RSS MB':>13}")
        for label, seconds, rss in (
            ("pg_dump -Fc -n", peer_backup, None), ("ours", ours_backup, plain["rss_mb"]),
            ("ours, encrypted", ours_enc, encrypted["rss_mb"]),
            ("pg_restore", peer_restore, None), ("ours, archive_load", ours_restore, restore["rss_mb"]),
        ):  # fmt: skip
            print(f"{label:<22}{seconds:>8.2f}{mb / seconds:>9.1f}{rss or 0:>13.0f}")

        fill(BIG, args.size_mb)
        size_1000 = data_bytes(BIG)
        doubled = min((ours({"do": "backup", "slug": BIG}, key_env) for _ in range(2)),
                      key=lambda r: r["times"][0])  # fmt: skip
        print(f"{BIG} at {size_1000 / 1e6:.0f} MB: ours, encrypted {doubled['times'][0]:.2f} s, "
              f"peak RSS {doubled['rss_mb']:.0f} MB (at {mb:.0f} MB: {encrypted['rss_mb']:.0f})")  # fmt: skip
        with connection.cursor() as cursor:  # its bytes are no longer needed
            cursor.execute(f'TRUNCATE "{BIG}".usersessions_session')
        shutil.rmtree(work / "artifacts", ignore_errors=True)

        # 2. Scaling, second part: 1,000 tenants.
        started = time.perf_counter()
        for i in range(2, args.tenants):
            tenant_provision(name=f"small-{i:04d}", slug=f"small-{i:04d}")
        print(
            f"\nprovisioned {args.tenants - 2} more tenants in {time.perf_counter() - started:.0f} s"
        )
        ours_n, peer_n = scale_point()
        print(
            f"small tenant, {args.tenants} tenants:  ours {ours_n:.3f} s   pg_dump {peer_n:.3f} s"
        )

        # 3. The nightly pass.
        nightly = ours({"do": "nightly"}, env)
        # pg_dump takes over a second per tenant at 1,000: every tenth, times ten, so the whole
        # run stays near 20 minutes (--peer-sample 1 for all of them).
        started = time.perf_counter()
        sampled = range(0, args.tenants, args.peer_sample)
        for i in sampled:
            pg_dump(f"small_{i:04d}", str(work / "n.dump"))
        peer_nightly = (time.perf_counter() - started) * args.tenants / len(sampled)
        print(f"nightly pass over {nightly['tenants']} tenants: ours {nightly['times'][0]:.0f} s, "
              f"sequential pg_dump -n {peer_nightly:.0f} s"
              f"{f' (estimated from {len(sampled)})' if len(sampled) < args.tenants else ''}")  # fmt: skip
        connection.close()
        figures = {
            "backup_ratio": round(peer_backup / ours_backup, 2),
            "backup_enc_ratio": round(peer_backup / ours_enc, 2),
            "restore_ratio": round(peer_restore / ours_restore, 2),
            "rss_mb": round(rss_mb, 1),
            "rss_growth": round(doubled["rss_mb"] / max(r["rss_mb"] for r in encrypteds), 3),
            "scale_ratio": round(ours_n / ours_2, 2),
            "peer_scale_ratio": round(peer_n / peer_2, 2),
            "nightly_1000_s": round(nightly["times"][0], 1),
            "peer_nightly_1000_s": round(peer_nightly, 1),
        }
    finally:
        bench_database_drop(PEER_DB)
        bench_database_drop(DB_NAME)
        shutil.rmtree(work, ignore_errors=True)
    print(f"(whole run: {time.perf_counter() - wall:.0f} s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
