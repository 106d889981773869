"""Bar charts with reportlab.graphics. Labels are drawn as strings, never parsed as markup."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from reports.data import BackupLine, DayAccess, DayJobs
from reports.render.base import FONT, GREY

# Job states in the order they stack, with a colour each (failures stand out in red).
STATE_COLORS: dict[str, colors.Color] = {
    "succeeded": colors.HexColor("#2e7d32"),
    "failed": colors.HexColor("#c62828"),
    "lost": colors.HexColor("#6a1b9a"),
    "retrying": colors.HexColor("#ef6c00"),
    "skipped": colors.HexColor("#9e9e9e"),
    "revoked": colors.HexColor("#5d4037"),
    "running": colors.HexColor("#1565c0"),
    "queued": colors.HexColor("#90caf9"),
}
SIGNINS = colors.HexColor("#1565c0")
SESSIONS = colors.HexColor("#90caf9")


def _day_labels(days: Sequence[dt.date]) -> list[str]:
    """A label every few days so that at most about 16 show, whatever the period's length."""
    step = max(1, math.ceil(len(days) / 16))
    fmt = "%a %d" if len(days) <= 16 else "%d %b"
    return [d.strftime(fmt) if i % step == 0 else "" for i, d in enumerate(days)]


def _bar_chart(
    width: float,
    height: float,
    days: Sequence[dt.date],
    series: list[tuple[str, colors.Color, list[int]]],
    *,
    stacked: bool,
    caption: str,
) -> Drawing:
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 36, 34
    chart.width, chart.height = int(width - 150), int(height - 52)
    values = [values for _, _, values in series] or [[0] * len(days)]
    chart.data = values
    if stacked:
        chart.categoryAxis.style = "stacked"
    chart.barSpacing = 0 if stacked else 1
    chart.groupSpacing = 2
    for i, (_, color, _values) in enumerate(series):
        chart.bars[i].fillColor = color
        chart.bars[i].strokeColor = None
    chart.categoryAxis.categoryNames = _day_labels(days)
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 45 if len(days) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(days) > 8 else "n"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    peak = max((sum(col) for col in zip(*values, strict=True)) if stacked else
               (max(v) for v in values if v), default=0)  # fmt: skip
    chart.valueAxis.valueMax = max(4, math.ceil(peak * 1.1))
    chart.valueAxis.valueStep = max(1, math.ceil(chart.valueAxis.valueMax / 5))
    chart.valueAxis.strokeColor = GREY
    chart.categoryAxis.strokeColor = GREY
    drawing.add(chart)

    legend = Legend()
    legend.x, legend.y = int(width - 104), int(height - 22)
    legend.fontName = FONT
    legend.fontSize = 7.5
    legend.alignment = "right"
    legend.columnMaximum = 10
    legend.boxAnchor = "nw"
    legend.colorNamePairs = [(color, name) for name, color, _ in series]
    drawing.add(legend)
    drawing.add(String(36, height - 10, caption, fontName=FONT, fontSize=8, fillColor=GREY))
    return drawing


def jobs_chart(days: list[DayJobs], width: float, height: float = 190) -> Drawing:
    """Jobs queued per day, stacked by their state; states that never occur are left out."""
    present = [s for s in STATE_COLORS if any(d.by_state.get(s) for d in days)]
    series = [
        (state, STATE_COLORS[state], [d.by_state.get(state, 0) for d in days]) for state in present
    ]
    total = sum(d.total for d in days)
    return _bar_chart(
        width, height, [d.day for d in days], series, stacked=True,
        caption=f"Jobs per day by state ({total} in the period)",
    )  # fmt: skip


def access_chart(days: list[DayAccess], width: float, height: float = 170) -> Drawing:
    series = [
        ("sign-ins", SIGNINS, [d.signins for d in days]),
        ("active sessions", SESSIONS, [d.active_sessions for d in days]),
    ]
    return _bar_chart(
        width, height, [d.day for d in days], series, stacked=False,
        caption="Sign-ins and active sessions per day",
    )  # fmt: skip


def backups_chart(backups: list[BackupLine], width: float, height: float = 150) -> Drawing:
    """Size of each backup in MB, in order: the growth of the tenant's data over the period."""
    sizes = [round(b.size_bytes / 1e6) for b in backups]
    return _bar_chart(
        width, height, [b.at.date() for b in backups],
        [("size (MB)", SIGNINS, sizes)], stacked=False, caption="Backup size over time",
    )  # fmt: skip
