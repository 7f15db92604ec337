"""The SVG every plot shares: escaping, number formats, the document shell, a time axis.

The plots are strings built by hand, not a drawing library's output, so that a page of 1,000
participants renders in milliseconds and a test can read back what was drawn (docs/adr/0014).
What makes such strings safe to inline in a page under a strict Content-Security-Policy is
kept here, in one place: every user-supplied string goes through `escape`, styling is by
presentation attributes only (no `style=`, no `<style>`, no script, no event handlers), and
nothing refers outside the document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from domain.protocol import DAYS_PER_MONTH

TimeUnit = Literal["months", "days"]

FONT_FAMILY: Final = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
"""Named fonts first (resvg has no usable generic `sans-serif` where Arial is missing)."""
FONT_SIZE: Final = 12
SMALL_FONT_SIZE: Final = 11
"""Tick labels, the risk table and lane labels: the smallest text drawn (print needs >= 10)."""
TITLE_FONT_SIZE: Final = 14
INK: Final = "#000000"
MUTED: Final = "#555555"
GRID: Final = "#d9d9d9"
PAPER: Final = "#ffffff"

# Okabe & Ito's colour-blind-safe palette; the four response colours also differ in lightness,
# so a grey print keeps them apart (CR darkest, SD lightest), and every plot adds a shape, a
# dash or a hatch besides.
BLUE: Final = "#0072B2"
SKY: Final = "#56B4E9"
ORANGE: Final = "#E69F00"
VERMILLION: Final = "#D55E00"
GREY: Final = "#999999"
BOR_COLOURS: Final = {"CR": BLUE, "PR": SKY, "SD": ORANGE, "PD": VERMILLION, "NE": GREY}

MINUS: Final = "\u2212"
"""Printed minus sign of negative tick labels (data attributes keep ASCII '-')."""

_XML_ESCAPES: Final = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
})
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry at all, even escaped: replaced, or the document is broken."""


def escape(text: str) -> str:
    """`text` safe as element content and inside a double- or single-quoted attribute."""
    if not text.isprintable():  # printable text has none of _NOT_XML: skip the search
        text = _NOT_XML.sub("\ufffd", text)
    return text.translate(_XML_ESCAPES)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut (labels drawn in a fixed margin;
    the full string stays in the data attribute and the tooltip)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def num(value: float) -> str:
    """A coordinate to a tenth of a CSS pixel: finer than any screen or printer shows, and
    formatting is most of what drawing 1,000 lanes costs."""
    return f"{value:.1f}"


def exact(value: float) -> str:
    """A datum for a data attribute: the shortest text that reads back as the same float."""
    return repr(float(value))


def signed(value: float, decimals: int = 0) -> str:
    """A printed percentage change with its sign: +20, 0, -30 (with a true minus)."""
    text = f"{value:+.{decimals}f}"
    if float(text) == 0:
        text = text[1:]
    return text.replace("-", MINUS)


def text(x: float, y: float, content: str, *, size: int = FONT_SIZE, anchor: str = "start",
         cls: str | None = None, bold: bool = False, fill: str = INK,
         attributes: str = "") -> str:
    """A `<text>`; `content` is escaped here, `attributes` must already be safe."""
    parts = [f'<text x="{num(x)}" y="{num(y)}" font-size="{size}"']
    if anchor != "start":
        parts.append(f' text-anchor="{anchor}"')
    if cls:
        parts.append(f' class="{cls}"')
    if bold:
        parts.append(' font-weight="bold"')
    if fill != INK:
        parts.append(f' fill="{fill}"')
    if attributes:
        parts.append(" " + attributes)
    parts.append(f">{escape(content)}</text>")
    return "".join(parts)


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = INK, width: float = 1,
         dash: str | None = None, cls: str | None = None, attributes: str = "") -> str:
    """A `<line>`; `dash` is a stroke-dasharray."""
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    extra += f' class="{cls}"' if cls else ""
    extra += f" {attributes}" if attributes else ""
    return (f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
            f'stroke="{stroke}" stroke-width="{num(width)}"{extra}/>')


def document(*, kind: str, width: float, height: float, title: str, desc: str,
             body: Iterable[str]) -> str:
    """The whole SVG: sized in CSS pixels, an image to assistive technology with `title` as its
    name and `desc` as its summary, on a white ground so print and PNG match the screen."""
    w, h = num(width), num(height)
    return "".join((
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot plot-{kind}" role="img" '
        f'width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}">'),
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
        f'<rect class="paper" width="{w}" height="{h}" fill="{PAPER}"/>',
        *body,
        "</svg>",
    ))


def message(*, kind: str, title: str, desc: str, note: str, width: float = 720) -> str:
    """A plot with nothing to draw: its title and a sentence saying why, never an error page."""
    return document(kind=kind, width=width, height=120, title=title, desc=desc, body=(
        text(width / 2, 32, title, size=TITLE_FONT_SIZE, anchor="middle", bold=True),
        text(width / 2, 76, note, anchor="middle", cls="empty", fill=MUTED),
    ))


_MONTH_STEPS: Final = (1, 2, 3, 6, 12, 24, 36, 60, 120)
_DAY_STEPS: Final = (1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650)
MAX_TIME_TICKS: Final = 10


@dataclass(frozen=True, slots=True)
class TimeAxis:
    """Days since the start mapped onto [left, left + width], ticked in months or days.

    Everything is positioned by day, the unit the API counts in; only the tick labels are in
    months (days / 30.4375, docs/rules.md "Days") when `unit` is months.
    """

    unit: TimeUnit
    left: float
    width: float
    step: int
    """Between ticks, in `unit`."""
    ticks: int
    """Number of steps: the axis ends at ticks x step."""
    end_day: float
    """The day at the right end of the axis: ticks x step, in days."""

    @classmethod
    def spanning(cls, last_day: float, *, unit: TimeUnit, left: float, width: float
                 ) -> TimeAxis:
        """An axis from 0 to the first tick at or after `last_day`, with at most ten steps."""
        span = last_day / DAYS_PER_MONTH if unit == "months" else float(last_day)
        steps = _MONTH_STEPS if unit == "months" else _DAY_STEPS
        step = next((s for s in steps if span <= s * MAX_TIME_TICKS), steps[-1])
        ticks = max(1, math.ceil(span / step - 1e-9))
        per_unit = DAYS_PER_MONTH if unit == "months" else 1.0
        return cls(unit=unit, left=left, width=width, step=step, ticks=ticks,
                   end_day=ticks * step * per_unit)

    @property
    def days_per_unit(self) -> float:
        return DAYS_PER_MONTH if self.unit == "months" else 1.0

    def x(self, day: float) -> float:
        """Where `day` is drawn."""
        return self.left + self.width * day / self.end_day

    def draw(self, y: float, *, label: str, below: bool = True, grid_top: float | None = None
             ) -> list[str]:
        """The axis line at `y`, its ticks and numbers (below or above it) and its label; with
        `grid_top`, light vertical rules from each tick up to it."""
        out = [line(self.left, y, self.left + self.width, y, cls="axis")]
        direction = 1 if below else -1
        for index in range(self.ticks + 1):
            value = index * self.step
            x = self.x(value * self.days_per_unit)
            if grid_top is not None and index:
                out.append(line(x, grid_top, x, y, stroke=GRID, width=0.6, cls="grid"))
            out.append(line(x, y, x, y + 4 * direction))
            out.append(text(x, y + (16 if below else -8), str(value), size=SMALL_FONT_SIZE,
                            anchor="middle", cls="tick",
                            attributes=f'data-{self.unit}="{value}"'))
        if label:
            out.append(text(self.left + self.width / 2, y + (32 if below else -24), label,
                            anchor="middle", cls="axis-label"))
        return out


def in_months(days: float) -> float:
    """Days as months of docs/rules.md "Days"."""
    return days / DAYS_PER_MONTH


def time_label(unit: TimeUnit, since: str) -> str:
    """"Months since treatment start" and the like."""
    return f"{'Months' if unit == 'months' else 'Days'} since {since}"


def duration(days: float, unit: TimeUnit) -> str:
    """A time for a description: "8.1 months" or "246 days"."""
    if unit == "months":
        return f"{in_months(days):.1f} months"
    return f"{days:g} days"
