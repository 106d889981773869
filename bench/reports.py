"""Job-history PDF: ours against bare reportlab, in one run (issue 14).

Bare is what the reportlab docs suggest for a long table: one `LongTable` of every row (header
repeated) in one `SimpleDocTemplate`. Ours is reports.render.history: the same rows and columns
plus its chart, header, footer, "Page X of Y" and embedded font. Each measurement runs in a
subprocess of its own, so a run's memory and warm caches do not leak into the next; the time is
the build alone (rows are generated lazily inside it for ours, listed before it for bare, as
each API takes them). Peak RSS is the subprocess's.

Targets: ratio_5k ≤ 1.3, linearity (ours 50k / ours 5k) ≤ 11, ratio_50k_vs_bare ≤ 0.25,
rss_mb_50k ≤ 150. Bare at 50,000 rows takes a minute or more.

    python bench/reports.py [--quick]    # --quick: bare at 50k left out (no ratio_50k_vs_bare)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
TASKS = ("reports.tasks.report_generate_task", "usersessions.tasks.sessions_cleanup_task",
         "backups.tasks.backup_create_task")  # fmt: skip
STATES = ("succeeded", "succeeded", "succeeded", "failed", "retrying")


def rows(n: int) -> Iterator[tuple[dt.datetime, str, str, int, float, str]]:
    for i in range(n):
        yield (START + dt.timedelta(seconds=20 * i), TASKS[i % 3], STATES[i % 5], 1 + i % 2,
               0.5 + (i % 7) / 3, f"job {i}: {i % 97} items")  # fmt: skip


def run_ours(n: int, out: str) -> float:
    from reports.data import DayJobs, JobHistoryReport, JobLine, Period, ReportKind, ReportMeta
    from reports.render.history import history_render

    period = Period(START.date(), (START + dt.timedelta(seconds=20 * n)).date())
    by_day: dict[dt.date, dict[str, int]] = {d: {} for d in period.days}
    for queued, _t, state, *_ in rows(n):
        counts = by_day[queued.date()]
        counts[state] = counts.get(state, 0) + 1
    meta = ReportMeta(
        kind=ReportKind.JOB_HISTORY, tenant_name="Acme Corp", tenant_slug="acme",
        brand_color="#1f4e79", zone="Europe/Paris", period=period, generated_at=START,
    )  # fmt: skip
    data = JobHistoryReport(
        meta=meta, jobs_by_day=[DayJobs(d, c) for d, c in by_day.items()], row_count=n,
        rows=(JobLine(*r) for r in rows(n)),
    )  # fmt: skip
    started = time.perf_counter()
    history_render(data, out)
    return time.perf_counter() - started


def run_bare(n: int, out: str) -> float:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import LongTable, SimpleDocTemplate, TableStyle

    header = ["Queued", "Task", "State", "Try", "Duration", "Summary"]
    data = [header] + [
        [q.strftime("%Y-%m-%d %H:%M:%S"), t, s, str(a), f"{d:.1f} s", m]
        for q, t, s, a, d, m in rows(n)
    ]
    started = time.perf_counter()
    table = LongTable(data, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("FONTSIZE", (0, 0), (-1, -1), 7)]))  # fmt: skip
    SimpleDocTemplate(out, pagesize=A4).build([table])
    return time.perf_counter() - started


def measure(which: str, n: int) -> dict[str, float]:
    """One measurement in a fresh interpreter: {"s": build seconds, "rss_mb": peak RSS}."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", which, str(n)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def child(which: str, n: int) -> None:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        seconds = (run_ours if which == "ours" else run_bare)(n, f.name)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"s": seconds, "rss_mb": rss_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out bare at 50,000 rows")
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    results: dict[tuple[str, int], dict[str, float]] = {}
    plan = [("bare", 5000), ("ours", 5000), ("ours", 50000)]
    if not args.quick:
        plan.append(("bare", 50000))
    print(f"{'what':<6} {'rows':>7} {'seconds':>9} {'peak RSS MB':>12}")
    for which, n in plan:
        results[which, n] = r = measure(which, n)
        print(f"{which:<6} {n:>7,} {r['s']:>9.2f} {r['rss_mb']:>12.0f}", flush=True)
    ours5, ours50 = results["ours", 5000]["s"], results["ours", 50000]["s"]
    figures: dict[str, float | None] = {
        "ratio_5k": round(ours5 / results["bare", 5000]["s"], 3),
        "ratio_50k_vs_bare": (
            round(ours50 / results["bare", 50000]["s"], 3) if ("bare", 50000) in results else None
        ),
        "linearity": round(ours50 / ours5, 2),
        "rss_mb_50k": round(results["ours", 50000]["rss_mb"], 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
