"""Members import: ours (dataport: streamed reading, duplicate keys in a temporary table, a few
queries per chunk of 2,000 rows, one transaction) against django-import-export's plain
`resource.import_data()` of the same CSV (a default ModelResource pair for the same users and
memberships, no bulk options), in one run; then a job-history export at 1,000,000 rows.

Each measurement runs in a subprocess of its own, so its peak RSS is its own; the data of the
previous one is deleted first. Ours is timed on the apply (the pass that writes, as the peer's
import_data does); its dry run (the preview) is shown beside it. Invitations are not sent.

Targets: speedup_100k ≥ 3, rss_ratio_100k ≤ 0.33, rss_growth_1m ≤ 1.2, export_rss_mb_1m ≤ 150.

    python bench/imports.py [--rows 100000] [--big 1000000] [--only-ours]
    BENCH_PROFILE=1 python bench/imports.py …   # each child's cProfile on the way
Last line: {"speedup_100k": …, "rss_ratio_100k": …, "rss_growth_1m": …, "export_rss_mb_1m": …}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._db import bench_database_create, bench_database_drop  # noqa: E402

DB_NAME = "saas_bench_imports"
SLUG = "benchio"


def csv_make(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("email,name,role\n")
        for i in range(rows):
            out.write(
                f"person{i}@bench.test,Person {i} Example,{'owner' if i == 0 else 'member'}\n"
            )


def _setup() -> Any:
    import django

    django.setup()
    from tenants.models import Tenant

    return Tenant.objects.get(slug=SLUG)


def _reset(tenant: Any) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenants_membership WHERE tenant_id = %s", [tenant.pk])
        cursor.execute("DELETE FROM accounts_user WHERE email LIKE '%%@bench.test'")


def child_ours(csv_path: str, dry_run_too: bool = True) -> dict[str, float]:
    tenant = _setup()
    from django_tenants.utils import tenant_context

    from dataport.imports import import_apply, import_check, import_confirm, import_upload
    from dataport.models import ImportRun
    from tenants.models import Membership

    _reset(tenant)
    size = os.path.getsize(csv_path)
    with open(csv_path, "rb") as handle:
        run = import_upload(tenant=tenant, resource_name="members", filename="members.csv",
                            content=handle, size=size, user=None)  # fmt: skip
    with tenant_context(tenant):
        started = time.perf_counter()
        if dry_run_too:
            import_check(run=run)
        else:  # at 1M rows: the apply alone, the measured pass (the dry run is the same pass)
            ImportRun.objects.filter(pk=run.pk).update(state="checked")
            run.state = "checked"
        check_s = time.perf_counter() - started
        assert run.state == "checked", run.message
        import_confirm(run=run, skip_invalid=False)
        started = time.perf_counter()
        import_apply(run=run, actor=None)
        seconds = time.perf_counter() - started
    assert run.state == "applied", run.message
    return {"s": seconds, **({"check_s": check_s} if dry_run_too else {}),
            "rows": Membership.objects.filter(tenant=tenant).count()}  # fmt: skip


def child_peer(csv_path: str) -> dict[str, float]:
    tenant = _setup()
    import tablib
    from import_export import fields, resources, widgets

    from accounts.models import User
    from tenants.models import Membership, Tenant

    _reset(tenant)

    class UserResource(resources.ModelResource):
        class Meta:
            model = User
            fields = ("username", "email", "first_name", "last_name")
            import_id_fields = ("username",)

    class MembershipResource(resources.ModelResource):
        user = fields.Field(attribute="user", column_name="user",
                            widget=widgets.ForeignKeyWidget(User, "username"))  # fmt: skip
        tenant = fields.Field(attribute="tenant", column_name="tenant",
                              widget=widgets.ForeignKeyWidget(Tenant, "slug"))  # fmt: skip

        class Meta:
            model = Membership
            fields = ("user", "tenant", "role")
            import_id_fields = ("user", "tenant")

    started = time.perf_counter()
    source = tablib.Dataset().load(Path(csv_path).read_text(), format="csv")
    users = tablib.Dataset(headers=["username", "email", "first_name", "last_name"])
    members = tablib.Dataset(headers=["user", "tenant", "role"])
    for email, name, role in source:
        first, _, last = name.partition(" ")
        users.append([email, email, first, last])
        members.append([email, SLUG, role])
    first_result = UserResource().import_data(users, dry_run=False)
    second_result = MembershipResource().import_data(members, dry_run=False)
    seconds = time.perf_counter() - started
    assert not first_result.has_errors() and not second_result.has_errors()
    return {"s": seconds, "rows": Membership.objects.filter(tenant=tenant).count()}


def child_export(_: str) -> dict[str, float]:
    tenant = _setup()
    from dataport.exports import resource_export
    from dataport.registry import resource_get

    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        rows = resource_export(resource_get("jobs"), tenant=tenant, fmt="csv", out=out)
        size = out.tell()
    return {"s": time.perf_counter() - started, "rows": rows, "mb": size / 1e6}


def measure(which: str, arg: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", which, arg],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if os.environ.get("BENCH_PROFILE"):
        print(done.stderr[-12000:])
    if done.returncode:
        raise RuntimeError(f"{which} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def jobruns_fill(tenant: Any, rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_jobrun (task_id, task_name, tenant_id, tenant_slug, schema_name, "
            "queue, args, kwargs, arguments_truncated, summary, periodic_task_name, state, "
            "attempt, attempts, progress_message, queued_at, started_at, finished_at, worker, "
            "error_type, error_message, traceback, artifact_url) "
            "SELECT 'bench-' || i, 'reports.tasks.report_generate_task', %s, %s, %s, 'long', "
            "'[]', '{}', false, 'job ' || i, '', 'succeeded', 1, '[]', '', "
            "now() - make_interval(secs => i), now() - make_interval(secs => i), "
            "now() - make_interval(secs => i - 1), 'bench@host', '', '', '', '' "
            "FROM generate_series(1, %s) AS i",
            [tenant.pk, tenant.slug, tenant.schema_name, rows],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--only-ours", action="store_true", help="leave the peer out (quick runs)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        which, arg = args.child
        run = {
            "ours": child_ours,
            "ours_apply": lambda p: child_ours(p, dry_run_too=False),
            "peer": child_peer,
            "export": child_export,
        }[which]
        if os.environ.get("BENCH_PROFILE"):  # where a child's time goes, on stderr
            import cProfile
            import pstats

            profile = cProfile.Profile()
            result = profile.runcall(run, arg)
            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        else:
            result = run(arg)
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    os.environ.update({"ARTIFACTS_ROOT": str(workdir / "artifacts"), "ARTIFACTS_QUOTA_MB": "100000",
                       "ARTIFACTS_S3_BUCKET": "", "DATAPORT_INVITE_ON_IMPORT": "0",
                       "DATAPORT_MAX_ROWS": str(max(args.big, args.rows)),
                       "DATAPORT_MAX_MB": "1000",
                       # As in production: with DEBUG, Django keeps the last 9,000 statements
                       # (bulk inserts of 2,000 rows each) in memory.
                       "DEBUG": "0", "SECRET_KEY": "bench-" + "k" * 60,
                       "SECURE_SSL_REDIRECT": "0"})  # fmt: skip
    bench_database_create(DB_NAME)
    import logging

    import django

    django.setup()
    from django.core.management import call_command

    from tenants.services import public_tenant_ensure, tenant_provision

    for name in ("tenants", "jobs", "beat"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        public_tenant_ensure(domain="localhost")
        tenant = tenant_provision(name="Bench imports", slug=SLUG).tenant
        small, big = workdir / "small.csv", workdir / "big.csv"
        csv_make(small, args.rows)
        csv_make(big, args.big)
        print(f"{'what':<22} {'rows':>10} {'seconds':>9} {'peak RSS MB':>12}")
        results = {}
        plan = [("peer import_data", "peer", small, args.rows), ("ours apply", "ours", small, args.rows),
                ("ours apply", "ours_apply", big, args.big)]  # fmt: skip
        for label, which, path, rows in plan[1:] if args.only_ours else plan:
            r = results[which, rows] = measure(which, str(path))
            assert int(r["rows"]) == rows, r
            extra = f"   (dry run {r['check_s']:.1f} s)" if "check_s" in r else ""
            print(f"{label:<22} {rows:>10,} {r['s']:>9.1f} {r['rss_mb']:>12.0f}{extra}", flush=True)
        jobruns_fill(tenant, args.big)
        export = measure("export", "")
        print(f"{'export job history':<22} {int(export['rows']):>10,} {export['s']:>9.1f} "
              f"{export['rss_mb']:>12.0f}   ({export['mb']:.0f} MB of CSV)")  # fmt: skip
        if args.only_ours:
            return
        peer, ours, ours_big = (
            results["peer", args.rows],
            results["ours", args.rows],
            results["ours_apply", args.big],
        )
        print(json.dumps({
            "speedup_100k": round(peer["s"] / ours["s"], 2),
            "rss_ratio_100k": round(ours["rss_mb"] / peer["rss_mb"], 3),
            "rss_growth_1m": round(ours_big["rss_mb"] / ours["rss_mb"], 3),
            "export_rss_mb_1m": round(export["rss_mb"], 1),
        }))  # fmt: skip
    finally:
        from django.db import connections

        connections.close_all()
        bench_database_drop(DB_NAME)


if __name__ == "__main__":
    main()
