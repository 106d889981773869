"""The renderers, without a database: plain data in, a PDF out, read back with pypdf."""

from __future__ import annotations

import datetime as dt
import math
import os
import unicodedata
from pathlib import Path
from typing import cast

from PIL import Image

from reports.data import (
    AccessReport,
    ActivityReport,
    BackupLine,
    DayAccess,
    DayJobs,
    Failure,
    JobHistoryReport,
    JobLine,
    MemberLine,
    Period,
    ReportKind,
    ReportMeta,
    ScheduleLine,
)
from reports.render.access import access_render
from reports.render.activity import activity_render
from reports.render.history import history_render
from tests.helpers import (
    CVE_MARKUP,
    CVE_PAYLOAD,
    pdf_fonts,
    pdf_page_png,
    pdf_read,
    pdf_text,
    report_sample_path,
)

UTC = dt.UTC
PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
GENERATED = dt.datetime(2026, 3, 9, 5, 0, tzinfo=UTC)  # 06:00 in Paris
# Greek, Cyrillic, a precomposed and a decomposed accent, and q + combining dot above (U+0307),
# which has no precomposed form: the mark must survive subsetting as a glyph of its own.
UNICODE_NAME = "Ωμέγα Корпорация Zoë Rene\u0301 q\u0307"
PWNED = Path("/tmp/pwned")


def meta(kind: ReportKind, name: str = "Acme Corp") -> ReportMeta:
    return ReportMeta(
        kind=kind, tenant_name=name, tenant_slug="acme", brand_color="#b03a2e",
        zone="Europe/Paris", period=PERIOD, generated_at=GENERATED,
    )  # fmt: skip


def activity(name: str = "Acme Corp", error: str = "disk full") -> ActivityReport:
    at = dt.datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    return ActivityReport(
        meta=meta(ReportKind.ACTIVITY, name),
        jobs_by_day=[DayJobs(d, {"succeeded": 10 + i, "failed": i % 2}) for i, d in enumerate(PERIOD.days)],
        failures=[Failure(at, "usersessions.tasks.sessions_cleanup_task", "OSError", error)],
        failures_total=3,
        access_by_day=[DayAccess(d, i, 2 * i) for i, d in enumerate(PERIOD.days)],
        schedules=[ScheduleLine("reports-activity-weekly", "reports.tasks.report_generate_task",
                                "0 6 * * 1", True, at, None)],
        backups=[BackupLine(dt.datetime.combine(d, dt.time(2, 40), tzinfo=UTC),
                            (40 + 3 * i) * 1_000_000, i % 3 != 2, "Nightly backup")
                 for i, d in enumerate(PERIOD.days)],
    )  # fmt: skip


def test_activity_has_the_figures_contents_metadata_and_page_numbers() -> None:
    path = report_sample_path("activity.pdf")
    pages = activity_render(activity(), str(path))
    text = pdf_text(path)
    reader = pdf_read(path)
    assert pages == len(reader.pages) >= 2
    assert "Acme Corp" in text and "Tenant activity" in text
    assert "Contents" in text and "Failures" in text and "Schedules" in text
    # 10+11+…+16 succeeded, three odd days failed: 91 + 3.
    assert "Jobs per day by state (94 in the period)" in text
    assert "The latest 1 of 3 failures." in text and "OSError: disk full" in text
    assert "Backup size over time" in text and "Nightly backup" in text and "58.0 MB" in text
    assert "21 sign-ins in the period" in text
    assert "2026-03-03 10:30" in text  # the next run, 09:30 UTC, in Paris (UTC+1)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "generated 2026-03-09 06:00 CET" in text
    info = reader.metadata
    assert info.title == "Tenant activity: Acme Corp" and info.author == "SaaS backoffice"
    assert info.subject == "Tenant activity of Acme Corp, 2026-03-02 to 2026-03-08"
    assert info.creation_date == dt.datetime(
        2026, 3, 9, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    assert {f.split("+")[1] for f in pdf_fonts(path)} == {"DejaVuSans", "DejaVuSans-Bold"}


def test_markup_and_the_cve_payload_in_tenant_and_user_text_are_shown_as_written() -> None:
    PWNED.unlink(missing_ok=True)
    name = 'Acme <b>bold</b> & "Co" ' + CVE_MARKUP
    path = report_sample_path("activity-escaped.pdf")
    activity_render(activity(name=name, error=CVE_MARKUP), str(path))
    access = report_sample_path("access-escaped.pdf")
    member = MemberLine(CVE_MARKUP, "<i>Mallory</i>", "m@example.com", "member", GENERATED, None, 0)
    access_render(AccessReport(meta(ReportKind.ACCESS, name), [member]), str(access))
    assert not PWNED.exists()
    flat = "".join(pdf_text(path).split())
    assert "".join(('Acme <b>bold</b> & "Co" ' + CVE_MARKUP).split()) in flat
    # The failures table shows the first 400 characters of an error.
    assert "".join(f"OSError: {CVE_MARKUP[:400]}".split()) in flat
    assert "".join(CVE_PAYLOAD.split()) in "".join(pdf_text(access).split())
    assert "<i>Mallory</i>" in pdf_text(access)


def test_a_unicode_name_round_trips_with_its_combining_marks() -> None:
    path = report_sample_path("access-unicode.pdf")
    member = MemberLine(
        "žofie", "Žofie Dvořáková", "z@example.com", "owner", GENERATED, GENERATED, 2
    )
    access_render(AccessReport(meta(ReportKind.ACCESS, UNICODE_NAME), [member]), str(path))
    text = unicodedata.normalize("NFC", pdf_text(path))
    assert unicodedata.normalize("NFC", UNICODE_NAME) in text
    assert "q\u0307" in text and "Žofie Dvořáková" in text
    assert (
        pdf_read(path).metadata.title
        == f"Access report: {unicodedata.normalize('NFC', UNICODE_NAME)}"
    )
    assert "1 member, 1 owner" in text


def test_job_history_is_one_table_page_per_page_of_rows_with_progress() -> None:
    rows = 800
    at = dt.datetime(2026, 3, 2, 8, tzinfo=UTC)
    lines = (
        JobLine(at + dt.timedelta(seconds=i), "reports.tasks.report_generate_task",
                "failed" if i % 100 == 0 else "succeeded", 1, 0.25, f"row {i}")
        for i in range(rows)
    )  # fmt: skip
    data = JobHistoryReport(
        meta(ReportKind.JOB_HISTORY), [DayJobs(PERIOD.start, {"succeeded": rows})], rows, lines
    )
    seen: list[tuple[int, int]] = []
    path = report_sample_path("job-history.pdf")
    pages = history_render(
        data, str(path), progress=lambda done, total, _m: seen.append((done, total))
    )
    reader = pdf_read(path)
    per_page = seen[0][0]
    assert pages == len(reader.pages) == 1 + math.ceil(rows / per_page) and per_page >= 50
    assert seen[-1] == (rows, rows) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    last = " ".join(reader.pages[-1].extract_text().split())
    assert f"row {rows - 1}" in last and f"Page {pages} of {pages}" in last
    assert "Contents" not in pdf_text(path)
    assert "row 0 " in " ".join(reader.pages[1].extract_text().split()) + " "


def test_a_page_rendered_to_png_is_not_blank_and_carries_the_brand(tmp_path: Path) -> None:
    pdf = report_sample_path("activity-png.pdf")
    activity_render(activity(), str(pdf))
    png = pdf_page_png(pdf, 2, tmp_path / "page2")
    image = Image.open(png).convert("RGB")
    colours = cast(list[tuple[int, tuple[int, int, int]]], image.getcolors(maxcolors=1 << 20))
    total = image.width * image.height
    ink = sum(n for n, (r, g, b) in colours if r + g + b < 600)
    assert ink / total > 0.03  # text, chart bars and table rules
    brand = sum(n for n, (r, g, b) in colours if abs(r - 0xB0) + abs(g - 0x3A) + abs(b - 0x2E) < 24)
    assert brand > 500  # the header band in the tenant's colour
    os.replace(png, report_sample_path("activity-page2.png"))
