"""What every report shares: the embedded font, text escaping, styles, and the page (header in
the tenant's brand colour, footer with the period, the generation time and "Page X of Y", PDF
metadata). No ORM here or anywhere under reports/render/: renderers take reports.data only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph
from reportlab.platypus.tableofcontents import TableOfContents

from reports.data import ReportMeta

FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"
# DejaVu Sans (Bitstream Vera licence, reports/fonts/LICENSE): Latin, Greek, Cyrillic and the
# combining marks, embedded (subset) in every PDF so any viewer shows the names as written.
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
DEFAULT_BRAND = "#1f4e79"
GREY = colors.HexColor("#555555")
LIGHT = colors.HexColor("#eef1f5")

PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
HEADER_H = 14 * mm
FOOTER_H = 10 * mm
PAGECOUNT_FORM = "pagecount"

Progress = Callable[[int, int, str], None]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def fonts_register() -> None:
    """Idempotent: reportlab's registry is per process."""
    _fonts_register()


@cache
def _fonts_register() -> None:
    pdfmetrics.registerFont(TTFont(FONT, str(FONTS_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONTS_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


def text_clean(value: object) -> str:
    """Text as it is drawn: NFC (a base letter and its combining mark become the precomposed
    glyph where one exists, so the mark sits where the font's designer put it rather than where
    a shaping-free renderer would), control characters and line breaks gone."""
    text = unicodedata.normalize("NFC", str(value))
    text = _CONTROL.sub("", text)
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def esc(value: object) -> str:
    """The only way user or tenant text reaches Paragraph markup: XML-escaped, so a name like
    `<font color="[[[getattr(pow, …)]]]">` is shown as written and never parsed (reportlab
    evaluated such attribute values: CVE-2023-33733)."""
    return escape(text_clean(value), {'"': "&quot;", "'": "&#39;"})


def para(value: object, style: ParagraphStyle) -> Paragraph:
    """A Paragraph of plain text (escaped here). Renderers build paragraphs through this only."""
    return Paragraph(esc(value), style)


def truncate(text: str, width: float, size: float, font: str = FONT) -> str:
    """Cut `text` to fit `width` points on one line (table cells of the long tables)."""
    if len(text) * size * 1.4 <= width:  # fits even if every glyph were DejaVu's widest
        return text
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[: max(len(text) - max(len(text) // 8, 1), 0)]
    return text + "…"


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def brand_color(value: str) -> colors.Color:
    return colors.HexColor(value if _HEX.match(value or "") else DEFAULT_BRAND)


def on_brand(color: colors.Color) -> colors.Color:
    """Black or white, whichever reads on the brand colour."""
    luminance = 0.2126 * color.red + 0.7152 * color.green + 0.0722 * color.blue
    return colors.black if luminance > 0.55 else colors.white


@cache
def styles() -> dict[str, ParagraphStyle]:
    fonts_register()
    body = ParagraphStyle("Body", fontName=FONT, fontSize=9, leading=12, alignment=TA_LEFT)
    return {
        "body": body,
        "small": ParagraphStyle("Small", parent=body, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("Cell", parent=body, fontSize=8, leading=10),
        "muted": ParagraphStyle("Muted", parent=body, textColor=GREY),
        "title": ParagraphStyle(
            "Title", parent=body, fontName=FONT_BOLD, fontSize=18, leading=23, spaceAfter=4
        ),
        # Headings of this name are the table of contents' entries (ReportDoc.afterFlowable).
        "h1": ParagraphStyle(
            "Heading1",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=13,
            leading=17,
            spaceBefore=10,
            spaceAfter=5,
            keepWithNext=1,
        ),
        # Not "Heading1": a heading that is not a section stays out of the contents.
        "h1_plain": ParagraphStyle(
            "Subtitle", parent=body, fontName=FONT_BOLD, fontSize=13, leading=17, spaceAfter=2
        ),
        "subhead": ParagraphStyle(
            "Subhead", parent=body, fontName=FONT_BOLD, fontSize=10, leading=14, spaceAfter=3
        ),
        "toc": ParagraphStyle("TOC", parent=body, fontSize=10, leading=15, leftIndent=6),
    }


def table_of_contents() -> TableOfContents:
    toc = TableOfContents()
    toc.levelStyles = [styles()["toc"]]
    toc.dotsMinLevel = 0
    return toc


def when(meta: ReportMeta, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime in the tenant's zone ("" for none)."""
    if value is None:
        return ""
    return str(value.astimezone(ZoneInfo(meta.zone)).strftime(fmt))


class ReportDoc(BaseDocTemplate):
    """A4 pages with the tenant's header and the report's footer. "Page X of Y" in one pass:
    each page draws X and places a form XObject for Y that is defined once, at the end, when Y
    is known; so the job history never needs a second build or every page held in memory."""

    def __init__(self, out: str | BinaryIO, meta: ReportMeta, *, toc: bool = False) -> None:
        fonts_register()
        self.meta = meta
        self.with_toc = toc
        self.pages = 0
        super().__init__(
            out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
            topMargin=MARGIN + HEADER_H, bottomMargin=MARGIN + FOOTER_H,
            title=f"{meta.kind.label}: {text_clean(meta.tenant_name)}",
            author=meta.author,
            subject=f"{meta.kind.label} of {text_clean(meta.tenant_name)}, {meta.period}",
            creator="SaaS backoffice reports",
            keywords=[meta.kind.value, meta.tenant_slug],
            pageCompression=1,
        )  # fmt: skip
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)  # fmt: skip
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._decorate)])

    @property
    def frame_height(self) -> float:
        return float(self.height)

    def _startBuild(self, filename: Any = None, canvasmaker: Any = Canvas) -> None:
        super()._startBuild(filename, canvasmaker)  # type: ignore[misc]
        self.pages = 0
        created = self.meta.generated_at.astimezone(ZoneInfo(self.meta.zone))
        offset = created.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        sign = "+" if minutes >= 0 else "-"
        stamp = (
            created.strftime("D:%Y%m%d%H%M%S")
            + f"{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
        )
        # The creation date is the report's generation time (in the tenant's zone), not the
        # moment the bytes were written: a re-render of the same data is the same report.
        self.canv.setDateFormatter(lambda *_ymdhms: stamp)

    def _endBuild(self) -> None:
        canv = self.canv
        canv.beginForm(PAGECOUNT_FORM)
        canv.setFont(FONT, 7.5)
        canv.setFillColor(GREY)
        canv.drawString(0, 0, str(self.pages))
        canv.endForm()
        super()._endBuild()  # type: ignore[misc]

    def afterFlowable(self, flowable: Flowable) -> None:
        if self.with_toc and isinstance(flowable, Paragraph) and flowable.style.name == "Heading1":
            self.notify("TOCEntry", (0, flowable.getPlainText(), self.page))

    def _decorate(self, canv: Canvas, doc: BaseDocTemplate) -> None:
        self.pages = max(self.pages, int(doc.page))
        meta = self.meta
        brand = brand_color(meta.brand_color)
        canv.saveState()
        top = PAGE_H - MARGIN
        canv.setFillColor(brand)
        canv.rect(MARGIN, top - HEADER_H + 3 * mm, PAGE_W - 2 * MARGIN, HEADER_H - 3 * mm,
                  stroke=0, fill=1)  # fmt: skip
        canv.setFillColor(on_brand(brand))
        title = meta.kind.label
        canv.setFont(FONT, 9)
        title_w = pdfmetrics.stringWidth(title, FONT, 9)
        canv.drawRightString(PAGE_W - MARGIN - 3 * mm, top - HEADER_H + 7 * mm, title)
        # drawString, not a Paragraph: the tenant's name is never parsed as markup here.
        name_room = PAGE_W - 2 * MARGIN - title_w - 12 * mm
        name = truncate(text_clean(meta.tenant_name), name_room, 12, FONT_BOLD)
        canv.setFont(FONT_BOLD, 12)
        canv.drawString(MARGIN + 3 * mm, top - HEADER_H + 6.5 * mm, name)

        canv.setFillColor(GREY)
        canv.setFont(FONT, 7.5)
        made = when(meta, meta.generated_at, "%Y-%m-%d %H:%M %Z")
        canv.drawString(MARGIN, MARGIN, f"Period {meta.period} ({meta.zone}) · generated {made}")
        count_x = PAGE_W - MARGIN - pdfmetrics.stringWidth("0000", FONT, 7.5)
        canv.drawRightString(count_x - 2, MARGIN, f"Page {doc.page} of")
        canv.translate(count_x + 1, MARGIN)
        canv.doForm(PAGECOUNT_FORM)
        canv.restoreState()


class LazyFlowables(list[Flowable]):
    """The flowables of a long report, made as the build reaches them.

    reportlab's build loop asks `len(flowables)` before each flowable and otherwise works on
    the front of the list; refilling there keeps only a couple of flowables (one page's table)
    alive at a time instead of every page's, which is what bounds memory at 50,000 rows."""

    def __init__(self, source: Iterator[Flowable], ahead: int = 2) -> None:
        super().__init__()
        self._source = source
        self._ahead = ahead

    def __len__(self) -> int:
        while super().__len__() < self._ahead:
            nxt = next(self._source, None)
            if nxt is None:
                break
            self.append(nxt)
        return super().__len__()
