"""The study report's type: its font family (embedded TrueType), paragraph styles and table
cells, and how a number, an interval and a rate are printed (exactly as the API wrote them)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
MONO = "Courier"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = (
    (DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"),
    (Path(reportlab.__file__).parent / "fonts" / "Vera.ttf",
     Path(reportlab.__file__).parent / "fonts" / "VeraBd.ttf"),
)
"""DejaVu Sans prints Latin, Greek and Cyrillic names as typed; reportlab's own Vera (Latin-1)
is the fallback where DejaVu is not installed. A TrueType font is embedded in the file, so the
PDF reads the same on every reader."""


@cache
def report_fonts() -> tuple[str, str]:
    """Register the report's font family once per process; (regular, bold) names."""
    regular, bold = "ReportSans", "ReportSans-Bold"
    for regular_file, bold_file in FONT_FILES:
        if regular_file.is_file() and bold_file.is_file():
            pdfmetrics.registerFont(TTFont(regular, str(regular_file)))
            pdfmetrics.registerFont(TTFont(bold, str(bold_file)))
            pdfmetrics.registerFontFamily(regular, normal=regular, bold=bold, italic=regular,
                                          boldItalic=bold)
            return regular, bold
    raise RuntimeError("no TrueType font for the study report: "
                       + ", ".join(str(regular_file) for regular_file, _ in FONT_FILES))


def report_styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    """The report's paragraph styles, by name (body, note, title, subtitle, h1, h2, and the
    table cells: cell, head, mono)."""
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5, spaceAfter=4)
    return {
        "body": body,
        "note": ParagraphStyle("note", parent=body, fontSize=8.5, leading=11,
                               textColor=colors.HexColor("#444444")),
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=24, leading=30,
                                spaceAfter=10),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=13, leading=17,
                                   spaceAfter=18),
        "h1": ParagraphStyle("h1", parent=body, fontName=bold, fontSize=15, leading=19,
                             spaceBefore=10, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=body, fontName=bold, fontSize=11.5, leading=15,
                             spaceBefore=8, spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5, spaceAfter=0),
        "head": ParagraphStyle("head", parent=body, fontName=bold, fontSize=8.5, leading=10.5,
                               spaceAfter=0),
        "mono": ParagraphStyle("mono", parent=body, fontName=MONO, fontSize=7.5, leading=9.5,
                               spaceAfter=0),
    }


def plain(text: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text: whatever it holds is printed, never read as markup."""
    return Paragraph(escape(str(text)), style)


def grid(rows: list[list[object]], styles: dict[str, ParagraphStyle],
           widths: list[float] | None = None, *, header: bool = True,
           mono_column: int | None = None) -> Table:
    """A grid of escaped cells; the first row is the header when `header`."""
    cells = [[cell if isinstance(cell, Flowable) else
              plain(cell, styles["head"] if header and index == 0 else
                 styles["mono"] if column == mono_column else styles["cell"])
              for column, cell in enumerate(row)] for index, row in enumerate(rows)]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")))
    table.setStyle(TableStyle(commands))
    return table


def pairs(rows: Iterable[tuple[str, object]], styles: dict[str, ParagraphStyle],
           mono: bool = False) -> Table:
    """A two-column label / value table (values in a fixed-width font when `mono`)."""
    return grid([[label, value] for label, value in rows], styles,
                  [52 * mm, FRAME_WIDTH - 52 * mm], header=False,
                  mono_column=1 if mono else None)


def number(value: object) -> str:
    """A number exactly as the API wrote it (a float's shortest repr); NE where null."""
    if value is None:
        return "NE"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def interval(bounds: list[float | None] | None) -> str:
    """[lower, upper] as the API wrote it."""
    if bounds is None:
        return "NE"
    return "[" + ", ".join(number(bound) for bound in bounds) + "]"


def rate_text(rate: float | None) -> str:
    """The fraction as answered, and the same as a percentage (exact: the API gives four
    decimals)."""
    if rate is None:
        return "NE (n = 0)"
    percent = (Decimal(repr(rate)) * 100).quantize(Decimal("0.01"))
    return f"{number(rate)} ({percent}%)"
