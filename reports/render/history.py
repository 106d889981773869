"""The job-history report: a chart of the period, then every job as one long table.

Linear in rows: reportlab's LongTable splits one big table at each page, and every split copies
the rest of the table (quadratic: 70 s at 50,000 rows). Here each page gets a table of its own,
exactly a page of fixed-height rows, made from the row stream when the build reaches it
(LazyFlowables): no split happens, and only one page of rows is alive at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import lru_cache
from typing import BinaryIO

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Spacer, Table

from reports.data import JobHistoryReport, JobLine
from reports.render.base import (
    FONT,
    LazyFlowables,
    Progress,
    ReportDoc,
    para,
    styles,
    text_clean,
    truncate,
    when,
)
from reports.render.charts import STATE_COLORS, jobs_chart
from reports.render.tables import jobs_totals_table, table_style

HEADER = ("Queued", "Task", "State", "Try", "Duration", "Summary")
ROW_H = 11.0
HEAD_H = 13.0
CELL_FONT_SIZE = 7.5
PAD = 6.0  # left + right padding of a cell (tables.table_style)


def history_render(
    data: JobHistoryReport, out: str | BinaryIO, *, progress: Progress | None = None
) -> int:
    """Write the PDF to `out`; returns its page count. `progress(rows_done, rows, "rows")` is
    called after each page of rows."""
    doc = ReportDoc(out, data.meta)
    widths = _widths(doc.width)
    per_page = int((doc.frame_height - HEAD_H) // ROW_H)
    doc.build(LazyFlowables(_story(data, doc.width, widths, per_page, progress)))
    return doc.pages


def _widths(width: float) -> list[float]:
    fixed = [29 * mm, 16 * mm, 8 * mm, 15 * mm]
    rest = width - sum(fixed)
    return [fixed[0], rest * 0.5, fixed[1], fixed[2], fixed[3], rest * 0.5]


def _story(
    data: JobHistoryReport,
    width: float,
    widths: list[float],
    per_page: int,
    progress: Progress | None,
) -> Iterator[Flowable]:
    s = styles()
    meta = data.meta
    yield para("Job history", s["title"])
    yield para(meta.tenant_name, s["h1_plain"])
    yield para(f"{meta.period} · {data.row_count} jobs · times in {meta.zone}", s["muted"])
    yield Spacer(1, 5 * mm)
    yield jobs_chart(data.jobs_by_day, width)
    totals = jobs_totals_table(data.jobs_by_day, meta.brand_color, list(STATE_COLORS))
    if totals is not None:
        yield Spacer(1, 3 * mm)
        yield totals
    if not data.row_count:
        yield para("No jobs in this period.", s["muted"])
        return
    yield PageBreak()
    style = table_style(meta.brand_color)
    rows = iter(data.rows)
    done = 0
    while chunk := list(itertools.islice(rows, per_page)):
        table = Table(
            [HEADER, *(_cells(meta_zone_row, widths) for meta_zone_row in _lines(data, chunk))],
            colWidths=widths,
            rowHeights=[HEAD_H] + [ROW_H] * len(chunk),
        )
        table.setStyle(style)
        done += len(chunk)
        yield table
        if progress is not None:
            progress(done, data.row_count, "rows")


def _lines(data: JobHistoryReport, chunk: list[JobLine]) -> Iterator[tuple[str, ...]]:
    meta = data.meta
    for line in chunk:
        duration = "" if line.duration_s is None else f"{line.duration_s:.1f} s"
        yield (
            when(meta, line.queued_at, "%Y-%m-%d %H:%M:%S"),
            line.task_name,
            line.state,
            str(line.attempt),
            duration,
            line.summary,
        )


def _cells(values: tuple[str, ...], widths: list[float]) -> list[str]:
    # Plain strings in a Table are drawn as text, never parsed as markup. Task and summary are
    # cut to one line so the fixed row height holds (the other columns always fit).
    queued, task, state, attempt, duration, summary = values
    return [
        queued,
        _fit(text_clean(task), widths[1] - PAD),
        state,
        attempt,
        duration,
        _fit(text_clean(summary), widths[5] - PAD),
    ]


@lru_cache(maxsize=4096)
def _fit(text: str, width: float) -> str:
    # Task names repeat on every page: measured once each.
    return truncate(text, width, CELL_FONT_SIZE, FONT)
