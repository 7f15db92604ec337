"""Swimmer plot: one lane per participant from treatment start, with what happened on it.

Lanes are sorted longest first (ties by participant id, so the same data give the same
picture). Each event kind has its own shape as well as its own colour (a response's first
read, progression, death, the end of treatment), and an arrow says follow-up continues. The
lane pitch is capped, so a trial of 1,000 participants makes a tall picture of legible lanes
rather than a smear; the time axis is then repeated above the lanes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from services.web.plots.data import MARK_KINDS, SwimmerLane
from services.web.plots.svg import (
    BLUE,
    INK,
    MUTED,
    ORANGE,
    SKY,
    SMALL_FONT_SIZE,
    TITLE_FONT_SIZE,
    VERMILLION,
    TimeAxis,
    TimeUnit,
    document,
    duration,
    escape,
    message,
    num,
    shorten,
    text,
    time_label,
)

LEFT: Final = 124
"""Room for the participant ids."""
RIGHT: Final = 36
"""Room for the last lane's arrow."""
PLOT_WIDTH: Final = 600
MIN_PITCH: Final = 14.0
"""Lane to lane: 11 px labels stay apart."""
MAX_PITCH: Final = 28.0
"""A handful of participants does not make a wall of thick bars."""
PLOT_HEIGHT_TARGET: Final = 420.0
TOP_AXIS_FROM: Final = 30
"""With more lanes than this, the time axis is drawn above the lanes too."""
LABEL_LIMIT: Final = 17
LANE_FILL: Final = "#c8c8c8"
_DRAW_ORDER: Final = {kind: rank for rank, kind in enumerate(
    ("off-treatment", "SD", "PR", "CR", "PD", "death"))}
"""When marks share a day, the later in this order is drawn on top (death last)."""
_LEGEND_NAMES: Final = {"CR": "CR", "PR": "PR", "SD": "SD", "PD": "Progression",
                        "death": "Death", "off-treatment": "End of treatment"}



@dataclass(frozen=True, slots=True)
class _Symbol:
    """A mark's shape at one size: a path starting at (x + dx, y + dy) from the mark's centre,
    drawn on in relative steps, so placing one costs two numbers, not ten."""

    dx: float
    dy: float
    tail: str
    paint: str


_OUTLINE: Final = f'stroke="{INK}" stroke-width="0.6"'


@functools.cache
def _symbols(r: float) -> dict[str, _Symbol]:
    """Each kind's shape of size `r`: circle CR, triangle PR, square SD, diamond PD, cross
    death, upright bar end of treatment."""
    side, tip, half = r * 1.7, r * 1.3, r * 1.1
    return {
        "CR": _Symbol(-r, 0.0, f"a{num(r)} {num(r)} 0 1 0 {num(2 * r)} 0"
                               f"a{num(r)} {num(r)} 0 1 0 {num(-2 * r)} 0z",
                      f'fill="{BLUE}" {_OUTLINE}'),
        "PR": _Symbol(0.0, -r * 1.15, f"l{num(half)} {num(r * 1.95)}h{num(-2 * half)}z",
                      f'fill="{SKY}" {_OUTLINE}'),
        "SD": _Symbol(-side / 2, -side / 2, f"h{num(side)}v{num(side)}h{num(-side)}z",
                      f'fill="{ORANGE}" {_OUTLINE}'),
        "PD": _Symbol(0.0, -tip, f"l{num(tip)} {num(tip)}l{num(-tip)} {num(tip)}"
                                 f"l{num(-tip)} {num(-tip)}z", f'fill="{VERMILLION}" {_OUTLINE}'),
        "death": _Symbol(-r, -r, f"l{num(2 * r)} {num(2 * r)}m0 {num(-2 * r)}"
                                 f"l{num(-2 * r)} {num(2 * r)}",
                         f'fill="none" stroke="{INK}" stroke-width="2"'),
        "off-treatment": _Symbol(0.0, -r * 1.4, f"v{num(r * 2.8)}",
                                 f'fill="none" stroke="{MUTED}" stroke-width="2.5"'),
    }


assert set(_symbols(5.0)) == set(MARK_KINDS)


def _symbol(kind: str, x: float, y: float, r: float) -> str:
    """A mark of `kind` centred at (x, y), as the legend shows it."""
    symbol = _symbols(r)[kind]
    return f'<path d="M{num(x + symbol.dx)} {num(y + symbol.dy)}{symbol.tail}" {symbol.paint}/>'



def swimmer_svg(lanes: Iterable[SwimmerLane], *, title: str, unit: TimeUnit = "months",
                x_label: str | None = None) -> str:
    """One lane per participant, longest on top, ticked in `unit` (`x_label` defaults to
    "<Months|Days> since treatment start")."""
    ordered = sorted(lanes, key=lambda lane: (-lane.end_day, lane.participant_id))
    desc = _summary(ordered, unit)
    if not ordered:
        return message(kind="swimmer", title=title, desc=desc, note="No participant to draw.")
    pitch = max(MIN_PITCH, min(MAX_PITCH, PLOT_HEIGHT_TARGET / len(ordered)))
    radius = min(5.0, pitch * 0.32)
    thickness = pitch * 0.5
    width = LEFT + PLOT_WIDTH + RIGHT
    top_axis = len(ordered) > TOP_AXIS_FROM
    top = 70.0 + (40 if top_axis else 0)
    bottom = top + pitch * len(ordered) + 6
    height = bottom + 46
    axis = TimeAxis.spanning(max(lane.last_day for lane in ordered), unit=unit, left=LEFT,
                             width=PLOT_WIDTH)
    label = x_label or time_label(unit, "treatment start")
    body = [text(width / 2, 24, title, size=TITLE_FONT_SIZE, anchor="middle", bold=True,
                 cls="plot-title")]
    body.extend(_legend(width, 50))
    if top_axis:
        body.extend(axis.draw(top - 6, label="", below=False))
    body.extend(axis.draw(bottom, label=label, grid_top=top - 6))
    body.append(f'<g class="lanes" font-size="{SMALL_FONT_SIZE}" text-anchor="end">')
    for index, lane in enumerate(ordered):
        middle = top + pitch * (index + 0.5)
        body.append(_lane(lane, axis, middle, thickness, radius))
    body.append("</g>")
    return document(kind="swimmer", width=width, height=height, title=title, desc=desc,
                    body=body)


def _lane(lane: SwimmerLane, axis: TimeAxis, middle: float, thickness: float,
          radius: float) -> str:
    """One lane's group: its tooltip, label, bar, arrow and marks. Written as few formats as
    possible: at 1,000 lanes this loop is the whole cost of the plot."""
    participant = escape(lane.participant_id)
    scale = axis.width / axis.end_day
    end = LEFT + lane.end_day * scale
    state = ("true", ", ongoing") if lane.ongoing else ("false", "")
    parts = [(
        f'<g class="lane" data-participant="{participant}" data-end-day="{lane.end_day}" '
        f'data-ongoing="{state[0]}"><title>{participant}: {duration(lane.end_day, axis.unit)}'
        f'{state[1]}</title><text x="{LEFT - 8}" y="{middle + 4:.1f}">'  # size, anchor: <g>
        f"{escape(shorten(lane.participant_id, LABEL_LIMIT))}</text>"
        f'<rect class="lane-bar" x="{LEFT}" y="{middle - thickness / 2:.1f}" '
        f'width="{max(end - LEFT, 1.0):.1f}" height="{thickness:.1f}" fill="{LANE_FILL}"/>'
    )]
    if lane.ongoing:
        half = min(thickness * 0.75, 6.0)
        parts.append(f'<path class="ongoing" d="M{end + 2:.1f} {middle - half:.1f}'
                     f'l{half * 1.3:.1f} {half:.1f}l{-half * 1.3:.1f} {half:.1f}z" '
                     f'fill="{INK}"/>')
    symbols = _symbols(radius)
    for mark in sorted(lane.marks, key=lambda mark: (mark.day, _DRAW_ORDER[mark.kind])):
        symbol = symbols[mark.kind]
        parts.append(f'<path class="mark" data-day="{mark.day}" data-kind="{mark.kind}" '
                     f'd="M{LEFT + mark.day * scale + symbol.dx:.1f} {middle + symbol.dy:.1f}'
                     f'{symbol.tail}" {symbol.paint}/>')
    parts.append("</g>")
    return "".join(parts)


def _legend(width: float, y: float) -> list[str]:
    """Each symbol with its name, and the arrow of continuing follow-up."""
    captions = [(kind, _LEGEND_NAMES[kind]) for kind in
                ("CR", "PR", "SD", "PD", "death", "off-treatment")]
    sizes = [34 + len(caption) * 7.2 for _, caption in captions] + [34 + 9 * 7.2]
    x = max(8.0, width / 2 - sum(sizes) / 2)
    out = ['<g class="legend">']
    for (kind, caption), size in zip(captions, sizes, strict=False):
        out.append(_symbol(kind, x + 6, y - 4, 5.0))
        out.append(text(x + 15, y, caption))
        x += size
    out.append(f'<path d="M{num(x + 1)} {num(y - 9)}l10 5l-10 5z" fill="{INK}"/>')
    out.append(text(x + 15, y, "Ongoing"))
    out.append("</g>")
    return out


def _summary(ordered: list[SwimmerLane], unit: TimeUnit) -> str:
    if not ordered:
        return "Swimmer plot: no participant"
    counts = {kind: 0 for kind in MARK_KINDS}
    for lane in ordered:
        for kind in {mark.kind for mark in lane.marks}:
            counts[kind] += 1
    responders = sum(1 for lane in ordered
                     if any(mark.kind in ("CR", "PR") for mark in lane.marks))
    ongoing = sum(1 for lane in ordered if lane.ongoing)
    return (f"Swimmer plot of {len(ordered)} participants, longest "
            f"{duration(ordered[0].end_day, unit)}: {ongoing} ongoing, {responders} with a "
            f"response (CR or PR), {counts['PD']} with progression, {counts['death']} died")
