"""The access report (owners only): who may sign in, with which role, when they last did, how
many sessions they hold; and the share links made and used (from the artifacts issue)."""

from __future__ import annotations

from typing import BinaryIO

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from reports.data import AccessReport
from reports.render.base import ReportDoc, para, plural, styles, when
from reports.render.tables import text_table


def access_render(data: AccessReport, out: str | BinaryIO) -> int:
    """Write the PDF to `out`; returns its page count."""
    doc = ReportDoc(out, data.meta)
    doc.build(_story(data, doc.width))
    return doc.pages


def _story(data: AccessReport, width: float) -> list[Flowable]:
    s = styles()
    meta = data.meta
    owners = sum(1 for m in data.members if m.role == "owner")
    story: list[Flowable] = [
        para("Access report", s["title"]),
        para(meta.tenant_name, s["h1_plain"]),
        para(
            f"As of {when(meta, meta.generated_at)} ({meta.zone}) · "
            f"{plural(len(data.members), 'member')}, {plural(owners, 'owner')}",
            s["muted"],
        ),
        Spacer(1, 5 * mm),
        para("Members", s["subhead"]),
    ]
    if data.members:
        rows = [
            (
                m.username,
                m.full_name,
                m.email,
                m.role,
                when(meta, m.joined_at, "%Y-%m-%d"),
                when(meta, m.last_signin_at) or "never",
                m.active_sessions,
            )
            for m in data.members
        ]
        widths = (28 * mm, 32 * mm, width - 145 * mm, 15 * mm, 20 * mm, 27 * mm, 23 * mm)
        header = (
            "User",
            "Name",
            "Email",
            "Role",
            "Member since",
            "Last sign-in",
            "Active sessions",
        )
        story.append(text_table(header, rows, widths, meta.brand_color))
    else:
        story.append(para("No members.", s["muted"]))
    story += [Spacer(1, 5 * mm), para("Share links", s["subhead"])]
    if data.share_links:
        rows2 = [
            (
                when(meta, link.created_at),
                link.artifact_name,
                link.created_by,
                link.uses,
                when(meta, link.expires_at) or "never",
                "revoked" if link.revoked else "",
            )
            for link in data.share_links
        ]
        widths2 = (28 * mm, width - 126 * mm, 30 * mm, 14 * mm, 28 * mm, 26 * mm)
        header2 = ("Made", "File", "By", "Uses", "Expires", "")
        story.append(text_table(header2, rows2, widths2, meta.brand_color))
    else:
        story.append(para("No share links made or used in this period.", s["muted"]))
    return story
