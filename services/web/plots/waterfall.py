"""Waterfall of best percentage change in the target-lesion sum, one bar per participant.

Bars run from the largest increase to the largest decrease, coloured by best overall response
(BOR), with the RECIST thresholds (+20% progression, -30% partial response) as dashed lines.
Colour is never the only cue: the palette's lightness follows the response, a legend names
each response with its count, and bars wide enough to show one carry a hatch per response,
so a grey print still reads. Bars above the axis's top (+100% unless asked otherwise) stop
there under a triangle; the data attribute keeps the true change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Final

from services.web.plots.data import WaterfallBar, counts_by
from services.web.plots.svg import (
    BOR_COLOURS,
    GRID,
    INK,
    MINUS,
    MUTED,
    SMALL_FONT_SIZE,
    TITLE_FONT_SIZE,
    document,
    escape,
    exact,
    line,
    message,
    num,
    signed,
    text,
)

LEFT: Final = 64
RIGHT: Final = 84
"""Room for the threshold labels right of the bars."""
PLOT_HEIGHT: Final = 320
PLOT_WIDTH: Final = 640
"""Width for up to 640 bars; more bars are 1 px each and widen the plot."""
MAX_BAR: Final = 28.0
MIN_HATCHED_BAR: Final = 4.0
"""Narrower bars are solid: a hatch there is noise."""
FLOOR: Final = -100.0
THRESHOLDS: Final = ((20.0, "+20% PD"), (-30.0, MINUS + "30% PR"))

_ORDER: Final = ("CR", "PR", "SD", "PD", "NE")
_LEGEND_GAP: Final = 34.0
"""Swatch and spacing around each legend caption."""
_NAMES: Final = {"CR": "CR", "PR": "PR", "SD": "SD", "PD": "PD", "NE": "NE / not evaluable"}
_HATCHES: Final = {
    # (path within a 6 x 6 tile, rotation): CR solid, PR rising, SD level, PD crossed, NE dots.
    "PR": ("M0 3H6", -45),
    "SD": ("M0 3H6", 0),
    "PD": ("M0 3H6M3 0V6", 45),
    "NE": ("M2 2h1.6v1.6h-1.6z", 0),
}


def waterfall_svg(bars: Iterable[WaterfallBar], *, title: str, clip_pct: float = 100.0,
                  y_label: str = "Best change in target-lesion sum (%)") -> str:
    """The bars sorted from the largest increase to the largest decrease (ties by participant
    id, so the same data always give the same picture), on a y axis from -100% to `clip_pct`."""
    if clip_pct <= 30:
        raise ValueError("the axis must reach above the +20% progression threshold")
    ordered = sorted(bars, key=lambda bar: (-bar.best_change_pct, bar.participant_id))
    counts = counts_by([_category(bar.bor) for bar in ordered])
    desc = _summary(ordered, counts)
    if not ordered:
        return message(kind="waterfall", title=title, desc=desc,
                       note="No participant with a measured change to draw.")
    band = max(1.0, min(PLOT_WIDTH / len(ordered), 40.0))
    plot_width = max(PLOT_WIDTH * 0.875, band * len(ordered))
    width = LEFT + plot_width + RIGHT
    top = 82.0
    bottom = top + PLOT_HEIGHT
    height = bottom + 44

    def y(change: float) -> float:
        return top + (clip_pct - min(change, clip_pct)) / (clip_pct - FLOOR) * PLOT_HEIGHT

    prefix = "wf" + hashlib.sha256("\x1f".join(
        [title, str(clip_pct), *(bar.participant_id for bar in ordered)]).encode()).hexdigest()[:10]
    hatched = band >= MIN_HATCHED_BAR
    body = [text(width / 2, 24, title, size=TITLE_FONT_SIZE, anchor="middle", bold=True,
                 cls="plot-title"), _patterns(prefix)]
    body.extend(_legend(counts, prefix, width=width, y=48, clip_pct=clip_pct))
    body.extend(_y_axis(y, top, bottom, plot_width, clip_pct, y_label))
    zero = y(0.0)
    bar_width = min(MAX_BAR, band * 0.8 if band >= 3 else band)
    offset = (band - bar_width) / 2
    out_bars = ['<g class="bars">']
    hatches = ['<g class="hatches">']
    markers = ['<g class="clip-markers">']
    for index, bar in enumerate(ordered):
        category = _category(bar.bor)
        x = LEFT + band * index + offset
        end = y(bar.best_change_pct)
        low, high = min(zero, end), max(zero, end)
        if high - low < 1.0:  # a change of 0 still shows as a sliver, not as no one
            low, high = (zero - 1.0, zero) if bar.best_change_pct >= 0 else (zero, zero + 1.0)
        clipped = bar.best_change_pct > clip_pct
        geometry = (f'x="{num(x)}" y="{num(low)}" width="{num(bar_width)}" '
                    f'height="{num(high - low)}"')
        participant = escape(bar.participant_id)
        flag = ' data-clipped="true"' if clipped else ""
        out_bars.append(
            f'<rect class="bar" data-participant="{participant}" '
            f'data-change="{exact(bar.best_change_pct)}" data-bor="{escape(bar.bor)}"{flag} '
            f'{geometry} fill="{BOR_COLOURS[category]}"><title>{participant}: '
            f"{bar.best_change_pct:+.1f}%, {escape(bar.bor)}</title></rect>")
        if hatched and category in _HATCHES:
            hatches.append(f'<rect {geometry} fill="url(#{prefix}-{category})"/>')
        if clipped:
            middle = x + bar_width / 2
            half = max(3.0, min(bar_width / 2, 6.0))
            markers.append(
                f'<path class="clip-marker" data-participant="{participant}" '
                f'd="M{num(middle - half)} {num(top - 2)}L{num(middle)} {num(top - 2 - half * 1.6)}'
                f'L{num(middle + half)} {num(top - 2)}Z" fill="{INK}"/>')
    body.extend((*out_bars, "</g>", *hatches, "</g>", *markers, "</g>"))
    body.append(line(LEFT, zero, LEFT + plot_width, zero, cls="zero-line"))
    for value, label in THRESHOLDS:
        body.append(line(LEFT, y(value), LEFT + plot_width, y(value), stroke=INK, width=1,
                         dash="6 4", cls="threshold", attributes=f'data-change="{exact(value)}"'))
        body.append(text(LEFT + plot_width + 6, y(value) + 4, label, size=SMALL_FONT_SIZE))
    body.append(text(LEFT + plot_width / 2, bottom + 20, f"Participants (n={len(ordered)}), "
                     "from the largest increase to the largest decrease", anchor="middle",
                     size=SMALL_FONT_SIZE, fill=MUTED))
    return document(kind="waterfall", width=width, height=height, title=title, desc=desc,
                    body=body)


def _category(bor: str) -> str:
    """The drawing category: "not evaluable" is drawn as NE."""
    return "NE" if bor == "not evaluable" else bor


def _summary(ordered: list[WaterfallBar], counts: dict[str, int]) -> str:
    if not ordered:
        return "Waterfall of best change in target-lesion sum: no participant"
    by_response = ", ".join(f"{name} {counts[name]}" for name in _ORDER if name in counts)
    shrinking = sum(1 for bar in ordered if bar.best_change_pct <= -30.0)
    return (f"Waterfall of best change in target-lesion sum: n={len(ordered)} ({by_response}); "
            f"{shrinking} with a decrease of 30% or more; largest increase "
            f"{signed(ordered[0].best_change_pct, 1)}%, largest decrease "
            f"{signed(ordered[-1].best_change_pct, 1)}%")


def _patterns(prefix: str) -> str:
    """One hatch per response, drawn over the bar's colour (ids unique to this picture, so two
    waterfalls on one page never borrow each other's)."""
    out = ["<defs>"]
    for name, (path, angle) in _HATCHES.items():
        rotate = f' patternTransform="rotate({angle})"' if angle else ""
        out.append(f'<pattern id="{prefix}-{name}" patternUnits="userSpaceOnUse" width="6" '
                   f'height="6"{rotate}><path d="{path}" stroke="{INK}" stroke-width="1" '
                   f'stroke-opacity="0.55" fill="{INK}" fill-opacity="0.55"/></pattern>')
    out.append("</defs>")
    return "".join(out)


def _legend(counts: dict[str, int], prefix: str, *, width: float, y: float,
            clip_pct: float) -> list[str]:
    """Swatch (colour and hatch), name and count of each response present, and the clip marker."""
    entries = [(name, f"{_NAMES[name]} ({counts[name]})") for name in _ORDER if name in counts]
    clip_caption = f"beyond +{clip_pct:g}%"
    slots = [_LEGEND_GAP + _text_width(caption) for _, caption in entries]
    total = sum(slots) + _LEGEND_GAP + _text_width(clip_caption)
    x = max(8.0, width / 2 - total / 2)
    out = ['<g class="legend">']
    for (name, caption), slot in zip(entries, slots, strict=True):
        out.append(f'<rect class="legend-swatch" data-bor="{name}" x="{num(x)}" y="{num(y - 10)}" '
                   f'width="14" height="14" fill="{BOR_COLOURS[name]}" stroke="{INK}" '
                   'stroke-width="0.5"/>')
        if name in _HATCHES:
            out.append(f'<rect x="{num(x)}" y="{num(y - 10)}" width="14" height="14" '
                       f'fill="url(#{prefix}-{name})"/>')
        out.append(text(x + 19, y + 2, caption))
        x += slot
    out.append(f'<path d="M{num(x)} {num(y + 3)}l6 -10l6 10z" fill="{INK}"/>')
    out.append(text(x + 19, y + 2, clip_caption))
    out.append("</g>")
    return out


def _text_width(caption: str) -> float:
    """About how wide `caption` is at the legend's 12 px (DejaVu Sans averages 0.6 em)."""
    return len(caption) * 7.2


def _y_axis(y: Callable[[float], float], top: float, bottom: float, plot_width: float,
            clip_pct: float, label: str) -> list[str]:
    out = [line(LEFT, top, LEFT, bottom, cls="axis")]
    value = FLOOR
    while value <= clip_pct + 1e-9:
        position = y(value)
        if value:
            out.append(line(LEFT, position, LEFT + plot_width, position, stroke=GRID,
                            width=0.6, cls="grid"))
        out.append(line(LEFT - 4, position, LEFT, position))
        out.append(text(LEFT - 7, position + 4, signed(value), size=SMALL_FONT_SIZE,
                        anchor="end", cls="tick"))
        value += 20.0
    middle = (top + bottom) / 2
    out.append(text(18, middle, label, anchor="middle", cls="axis-label", size=SMALL_FONT_SIZE,
                    attributes=f'transform="rotate(-90 18 {num(middle)})"'))
    return out
