"""Tables: short ones of escaped paragraphs (text wraps), and the long job-history table as one
page-sized Table per page (text cut to one line, fixed row heights)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table, TableStyle

from reports.data import DayJobs
from reports.render.base import FONT, FONT_BOLD, LIGHT, brand_color, on_brand, para, styles

Cell = str | Flowable


def table_style(brand: str, *, zebra: bool = True) -> TableStyle:
    color = brand_color(brand)
    commands: list[Any] = [
        ("BACKGROUND", (0, 0), (-1, 0), color),
        ("TEXTCOLOR", (0, 0), (-1, 0), on_brand(color)),
        ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
        ("FONTNAME", (0, 1), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, LIGHT),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if zebra:
        commands.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [None, LIGHT]))
    return TableStyle(commands)


def text_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    widths: Sequence[float],
    brand: str,
) -> Table:
    """A short table whose every cell is an escaped, wrapping paragraph."""
    cell = styles()["cell"]
    # A Paragraph ignores the table's TEXTCOLOR: the header cells get a style of their own.
    head_style = ParagraphStyle(
        "CellHead", parent=cell, fontName=FONT_BOLD, textColor=on_brand(brand_color(brand))
    )
    head = [para(h, head_style) for h in header]
    body = [[para(value, cell) for value in row] for row in rows]
    table = Table([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(table_style(brand))
    return table


def jobs_totals_table(days: list[DayJobs], brand: str, states: Sequence[str]) -> Table | None:
    """Jobs of the period by state, in `states` order, with the sum; None when there are none."""
    totals: dict[str, int] = {}
    for day in days:
        for state, count in day.by_state.items():
            totals[state] = totals.get(state, 0) + count
    rows: list[tuple[str, int]] = [(state, totals[state]) for state in states if totals.get(state)]
    if not rows:
        return None
    rows.append(("all", sum(totals.values())))
    return text_table(("State", "Jobs"), rows, (40 * mm, 25 * mm), brand)
