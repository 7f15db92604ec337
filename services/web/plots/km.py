"""Kaplan-Meier curves drawn from `GET /api/v1/endpoints/curves`, with the numbers at risk.

The curve is the API's points, drawn as a right-continuous step (S changes at an event day and
holds until the next), starting at (0, 1) and ending at the last follow-up. Around it, the
pointwise 95% band the API reports; on it, a "+" where someone was censored; under the axis,
the numbers at risk. Nothing is estimated here: every datum drawn is carried, unrounded, in a
data attribute, so a test (or an auditor with a browser's inspector) can check the picture
against the API's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from services.web.plots.data import KmCurve, KmPoint, as_curve
from services.web.plots.svg import (
    BLUE,
    GRID,
    MUTED,
    SMALL_FONT_SIZE,
    TITLE_FONT_SIZE,
    VERMILLION,
    TimeAxis,
    TimeUnit,
    document,
    duration,
    escape,
    exact,
    line,
    message,
    num,
    shorten,
    text,
    time_label,
)

LEFT: Final = 150
"""Room for the y axis and, in the risk table, each curve's label."""
RIGHT: Final = 28
PLOT_HEIGHT: Final = 300
ROW: Final = 16
CENSOR_TICK: Final = 4
LABEL_LIMIT: Final = 16
RISK_LABEL_GAP: Final = 24
"""Between a risk-table row's label and the axis, where the day-0 count is centred."""


@dataclass(frozen=True, slots=True)
class _Style:
    colour: str
    dash: str | None
    """Besides colour, a second curve is dashed: they stay apart in grey and to the colour-blind."""


_STYLES: Final = (_Style(BLUE, None), _Style(VERMILLION, "7 4"))


def km_svg(curve: Mapping[str, Any] | KmCurve, *, title: str, label: str = "",
           overlay: Mapping[str, Any] | KmCurve | None = None, overlay_label: str = "",
           unit: TimeUnit = "months", x_label: str | None = None,
           y_label: str = "Survival probability", width: int = 720) -> str:
    """`curve` (one endpoint of `GET /api/v1/endpoints/curves`, as the dict the API returns)
    as an SVG; with `overlay`, a second curve on the same axes (e.g. PFS by RECIST 1.1 and by
    mRECIST) and a legend naming them by `label` and `overlay_label`.

    The x axis is ticked in `unit`; `x_label` defaults to "<Months|Days> since treatment
    start" (pass "... since first response" for DOR). A curve of no participant is drawn as a
    sentence saying so.
    """
    series = [(label, as_curve(curve))]
    if overlay is not None:
        series.append((overlay_label, as_curve(overlay)))
    desc = "; ".join(_summary(name, one, unit) for name, one in series)
    if all(not one.points for _, one in series):
        return message(kind="km", title=title, desc=desc, note="No participant: no curve to draw.",
                       width=width)
    legend = overlay is not None or bool(label)
    top = 44 + (ROW + 4 if legend else 0)
    plot_width = width - LEFT - RIGHT
    axis = TimeAxis.spanning(max(one.last_day for _, one in series), unit=unit, left=LEFT,
                             width=plot_width)
    bottom = top + PLOT_HEIGHT
    risk_top = bottom + 62
    height = risk_top + ROW * len(series) + 16
    body = [text(width / 2, 24, title, size=TITLE_FONT_SIZE, anchor="middle", bold=True,
                 cls="plot-title")]
    if legend:
        body.extend(_legend(series, y=44, width=width))
    body.extend(_y_axis(top, bottom, plot_width, y_label))
    body.extend(axis.draw(bottom, label=x_label or time_label(unit, "treatment start"),
                          grid_top=top))
    for index, (name, one) in enumerate(series):
        if one.points:
            body.extend(_curve(index, name, one, axis, top))
    body.extend(_risk_table(series, axis, risk_top))
    return document(kind="km", width=width, height=height, title=title, desc=desc, body=body)


def _summary(name: str, curve: KmCurve, unit: TimeUnit) -> str:
    """"Kaplan-Meier PFS: n=120, 80 events, median 8.1 months" for the SVG's <desc>."""
    head = f"Kaplan-Meier {name}".rstrip() + ": "
    if curve.n == 0:
        return head + "no participant"
    median = curve.median_day()
    middle = "median not reached" if median is None else f"median {duration(median, unit)}"
    events = "1 event" if curve.events == 1 else f"{curve.events} events"
    return f"{head}n={curve.n}, {events}, {middle}"


def _y(top: float, survival: float) -> float:
    return top + (1.0 - survival) * PLOT_HEIGHT


def _y_axis(top: float, bottom: float, plot_width: float, label: str) -> list[str]:
    out = [line(LEFT, top, LEFT, bottom, cls="axis")]
    for tenth in range(0, 11, 2):
        y = _y(top, tenth / 10)
        if tenth:
            out.append(line(LEFT, y, LEFT + plot_width, y, stroke=GRID, width=0.6, cls="grid"))
        out.append(line(LEFT - 4, y, LEFT, y))
        out.append(text(LEFT - 7, y + 4, f"{tenth / 10:.1f}", size=SMALL_FONT_SIZE,
                        anchor="end", cls="tick"))
    middle = (top + bottom) / 2
    out.append(text(LEFT - 44, middle, label, anchor="middle", cls="axis-label",
                    attributes=f'transform="rotate(-90 {num(LEFT - 44)} {num(middle)})"'))
    return out


def _legend(series: list[tuple[str, KmCurve]], *, y: float, width: float) -> list[str]:
    """A line sample (colour and dash) and the name of each curve, centred under the title."""
    slot = min(260.0, (width - 40) / len(series))
    start = width / 2 - slot * len(series) / 2
    out = ['<g class="legend">']
    for index, (name, curve) in enumerate(series):
        style = _STYLES[index]
        x = start + slot * index
        dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
        out.append(f'<path d="M{num(x)} {num(y)}h28" stroke="{style.colour}" '
                   f'stroke-width="2.5" fill="none"{dash}/>')
        caption = shorten(name or f"Curve {index + 1}", 28)
        if not curve.points:
            caption += " (no participant)"
        out.append(text(x + 34, y + 4, caption))
    out.append("</g>")
    return out


def _curve(index: int, name: str, curve: KmCurve, axis: TimeAxis, top: float) -> list[str]:
    """Band, step and censoring marks of one curve, grouped and labelled for a reader."""
    style = _STYLES[index]
    out = [(f'<g class="km-curve" data-series="{index}" data-label="{escape(name)}" '
           f'data-n="{curve.n}" data-events="{curve.events}">')]
    out.extend(_band(curve, axis, top, style.colour))
    steps = ";".join(f"{point.day}:{exact(point.survival)}" for point in curve.points)
    dash = f' stroke-dasharray="{style.dash}"' if style.dash else ""
    out.append(f'<path class="km-step" data-steps="{steps}" d="{_step_path(curve, axis, top)}" '
               f'fill="none" stroke="{style.colour}" stroke-width="2"{dash}/>')
    heights = {point.day: point.survival for point in curve.points}
    for day in curve.censor_marks:
        survival = heights[day]  # a censoring day is one of the points' (KmCurve checks)
        x, y = num(axis.x(day)), num(_y(top, survival))
        out.append(f'<path class="km-censor" data-day="{day}" data-survival="{exact(survival)}" '
                   f'd="M{x} {y}m-{CENSOR_TICK} 0h{2 * CENSOR_TICK}M{x} {y}m0 -{CENSOR_TICK}'
                   f'v{2 * CENSOR_TICK}" stroke="{style.colour}" stroke-width="1.4" '
                   'fill="none"/>')
    out.append("</g>")
    return out


def _step_path(curve: KmCurve, axis: TimeAxis, top: float) -> str:
    """From (0, 1): across to each point's day at the height before it, then down to its S."""
    first = curve.points[0]
    parts = [f"M{num(axis.x(first.day))} {num(_y(top, first.survival))}"]
    for point in curve.points[1:]:
        parts.append(f"H{num(axis.x(point.day))}V{num(_y(top, point.survival))}")
    return "".join(parts)


def _band(curve: KmCurve, axis: TimeAxis, top: float, colour: str) -> list[str]:
    """The pointwise band as shaded polygons, one per run of points that have one (the API
    gives none where S = 0), each step of the band held until the next point's day."""
    out: list[str] = []
    run: list[tuple[KmPoint, int]] = []
    points = curve.points
    for index, point in enumerate(points):
        if point.lower is not None and point.upper is not None:
            following = points[index + 1].day if index + 1 < len(points) else point.day
            run.append((point, following))
            continue
        if run:
            out.append(_band_polygon(run, axis, top, colour))
            run = []
    if run:
        out.append(_band_polygon(run, axis, top, colour))
    return out


def _band_polygon(run: list[tuple[KmPoint, int]], axis: TimeAxis, top: float,
                  colour: str) -> str:
    upper: list[str] = []
    lower: list[str] = []
    for point, until in run:
        assert point.lower is not None and point.upper is not None
        x0, x1 = num(axis.x(point.day)), num(axis.x(until))
        high, low = num(_y(top, point.upper)), num(_y(top, point.lower))
        upper.append(f"{x0} {high}L{x1} {high}")
        lower.append(f"{x1} {low}L{x0} {low}")
    band = ";".join(f"{point.day}:{exact(point.lower or 0.0)}:{exact(point.upper or 0.0)}"
                    for point, _ in run)
    return (f'<path class="km-band" data-band="{band}" '
            f'd="M{"L".join(upper)}L{"L".join(reversed(lower))}Z" fill="{colour}" '
            'fill-opacity="0.16" stroke="none"/>')


def _risk_table(series: list[tuple[str, KmCurve]], axis: TimeAxis, top: float) -> list[str]:
    """"Number at risk", then one row per curve: its label in the margin, each count under
    its day."""
    out = ['<g class="km-risk-table">',
           text(LEFT - RISK_LABEL_GAP, top - 10, "Number at risk", anchor="end", bold=True,
                size=SMALL_FONT_SIZE)]
    for index, (name, curve) in enumerate(series):
        y = top + ROW * index + 4
        caption = shorten(name or ("" if len(series) == 1 else f"Curve {index + 1}"), LABEL_LIMIT)
        out.append(text(LEFT - RISK_LABEL_GAP, y, caption, anchor="end", size=SMALL_FONT_SIZE,
                        fill=_STYLES[index].colour if len(series) > 1 else MUTED))
        out.append(f'<g class="km-risk-row" data-series="{index}">')
        for cell in curve.risk_table:
            out.append(text(axis.x(cell.day), y, str(cell.at_risk), size=SMALL_FONT_SIZE,
                            anchor="middle", cls="km-risk",
                            attributes=f'data-day="{cell.day}" data-at-risk="{cell.at_risk}"'))
        out.append("</g>")
    out.append("</g>")
    return out
