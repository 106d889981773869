"""The tenant activity report: jobs, failures, sign-ins and sessions, schedules, backups and
downloads for a period, with a table of contents."""

from __future__ import annotations

from typing import BinaryIO

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Spacer

from reports.data import ActivityReport
from reports.render.base import ReportDoc, para, plural, styles, table_of_contents, when
from reports.render.charts import STATE_COLORS, access_chart, backups_chart, jobs_chart
from reports.render.tables import jobs_totals_table, text_table

FAILURES_SHOWN = 200
ERROR_CHARS = 400


def activity_render(data: ActivityReport, out: str | BinaryIO) -> int:
    """Write the PDF to `out`; returns its page count."""
    doc = ReportDoc(out, data.meta, toc=True)
    doc.multiBuild(_story(data, doc.width))  # two passes: the contents need the page numbers
    return doc.pages


def _story(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    meta = data.meta
    story: list[Flowable] = [
        para("Tenant activity", s["title"]),
        para(meta.tenant_name, s["h1_plain"]),
        para(f"{meta.period} · times in {meta.zone}", s["muted"]),
        Spacer(1, 6 * mm),
        para("Contents", s["subhead"]),
        table_of_contents(),
        PageBreak(),
    ]
    story += _jobs(data, width)
    story += _failures(data, width)
    story += _access(data, width)
    story += _schedules(data, width)
    story += _backups(data, width)
    story += _downloads(data, width)
    return story


def _jobs(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    out: list[Flowable] = [para("Jobs", s["h1"]), jobs_chart(data.jobs_by_day, width)]
    totals = jobs_totals_table(data.jobs_by_day, data.meta.brand_color, list(STATE_COLORS))
    if totals is None:
        return [*out, para("No jobs ran in this period.", s["muted"])]
    return [*out, Spacer(1, 3 * mm), totals]


def _failures(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    out: list[Flowable] = [para("Failures", s["h1"])]
    if not data.failures:
        return [*out, para("No job failed in this period.", s["muted"])]
    shown = data.failures[:FAILURES_SHOWN]
    if data.failures_total > len(shown):
        out.append(para(f"The latest {len(shown)} of {data.failures_total} failures.", s["muted"]))
    rows = [
        (when(data.meta, f.at), f.task_name, f"{f.error_type}: {f.error_message[:ERROR_CHARS]}")
        for f in shown
    ]
    widths = (26 * mm, 52 * mm, width - 78 * mm)
    out.append(text_table(("When", "Task", "Error"), rows, widths, data.meta.brand_color))
    return out


def _access(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    signins = sum(d.signins for d in data.access_by_day)
    return [
        para("Sign-ins and sessions", s["h1"]),
        access_chart(data.access_by_day, width),
        para(
            f"{plural(signins, 'sign-in')} in the period. A sign-in is a session issued to a member on "
            "the tenant's domain (the session's creation time); a session is active on a day "
            "when it was issued before the day ended and expires after it began. Sessions "
            "already cleaned up are not counted.",
            s["small"],
        ),
    ]


def _schedules(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    out: list[Flowable] = [para("Schedules", s["h1"])]
    if not data.schedules:
        # The list is beat's read model (ScheduleSummary): empty until beat has loaded the tenant.
        return [*out, para("No schedules listed by the scheduler yet.", s["muted"])]
    rows = [
        (
            line.name,
            line.schedule,
            "yes" if line.enabled else "no",
            when(data.meta, line.next_run_at) or "—",
            when(data.meta, line.last_run_at) or "—",
        )
        for line in data.schedules
    ]
    widths = (48 * mm, width - 48 * mm - 14 * mm - 2 * 28 * mm, 14 * mm, 28 * mm, 28 * mm)
    out.append(para(f"Next and last runs in {data.meta.zone}.", s["muted"]))
    out.append(
        text_table(
            ("Schedule", "When", "On", "Next run", "Last run"), rows, widths, data.meta.brand_color
        )
    )
    return out


def _backups(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    out: list[Flowable] = [para("Backups", s["h1"])]
    if not data.backups:
        return [*out, para("No backups in this period.", s["muted"])]
    out.append(backups_chart(data.backups, width))
    rows = [
        (
            when(data.meta, b.at),
            b.name,
            f"{b.size_bytes / 1e6:.1f} MB",
            "yes" if b.verified else "no",
        )
        for b in data.backups
    ]
    widths = (30 * mm, width - 80 * mm, 25 * mm, 25 * mm)
    out.append(
        text_table(("When", "Backup", "Size", "Verified"), rows, widths, data.meta.brand_color)
    )
    return out


def _downloads(data: ActivityReport, width: float) -> list[Flowable]:
    s = styles()
    out: list[Flowable] = [para("Downloads", s["h1"])]
    if not data.downloads:
        return [*out, para("No downloads in this period.", s["muted"])]
    rows = [(when(data.meta, d.at), d.artifact_name, d.who) for d in data.downloads]
    widths = (30 * mm, width - 80 * mm, 50 * mm)
    out.append(text_table(("When", "File", "Who"), rows, widths, data.meta.brand_color))
    return out
