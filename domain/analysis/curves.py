"""Kaplan-Meier curves as a plot draws them: step points, censoring ticks, a risk table.

The estimate, its Greenwood variance and its log-log band come from `fit_kaplan_meier`, the
same fit the endpoints report reads its medians and rates from, so a curve drawn from these
points crosses 0.5 where the report's median is. Only what a plot needs beyond the fit is
added here: a point at every distinct time (censoring-only times included, with the survival
carried over), how many were at risk, had the event or were censored there, and the numbers
at risk at regular days for the table printed under the curves. No I/O.

Days follow docs/rules.md "Days": end - start + 1, so every time is a whole day >= 1 and day 0
(treatment start, or the response's first read for DOR) is where each curve starts at 1.0.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from domain.analysis.confidence_bands import CITransform
from domain.analysis.kaplan_meier import KaplanMeierStep, fit_kaplan_meier
from domain.analysis.time_to_event import TimeToEvent
from domain.protocol import KM_CI_TRANSFORM_DEFAULT

RISK_TABLE_EVERY_DEFAULT = 90
"""Days between the rows of the numbers-at-risk table unless asked otherwise (~3 months)."""
RISK_TABLE_EVERY_MAX = 3650
"""Ten years: a wider spacing would give a table of one row for any follow-up of this trial."""

Observation = TimeToEvent | tuple[int, bool]
"""One subject: a TimeToEvent, or (days, event) with event False for a censored time."""


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """S just after `day` and its pointwise 95% band (None where undefined: S = 0), with
    those at risk just before `day` and the events and censorings at it."""

    day: int
    survival: float
    lower: float | None
    upper: float | None
    at_risk: int
    events: int
    censored: int


@dataclass(frozen=True, slots=True)
class RiskRow:
    """Subjects still at risk at `day` (their time is `day` or later)."""

    day: int
    at_risk: int


@dataclass(frozen=True, slots=True)
class SurvivalCurve:
    """One endpoint's curve: a step at day 0 and at each distinct time, in day order."""

    n: int
    events: int
    points: tuple[CurvePoint, ...]
    censor_marks: tuple[int, ...]
    risk_table: tuple[RiskRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """The docs/api.md `curves.<endpoint>` object (unrounded: a plot rounds if it likes)."""
        return {
            "n": self.n,
            "events": self.events,
            "points": [{"day": p.day, "survival": p.survival, "lower": p.lower,
                        "upper": p.upper, "at_risk": p.at_risk, "events": p.events,
                        "censored": p.censored} for p in self.points],
            "censor_marks": list(self.censor_marks),
            "risk_table": [{"day": row.day, "at_risk": row.at_risk} for row in self.risk_table],
        }


def survival_curve(
    observations: Iterable[Observation],
    *,
    risk_table_every: int = RISK_TABLE_EVERY_DEFAULT,
    transform: CITransform = KM_CI_TRANSFORM_DEFAULT,
) -> SurvivalCurve:
    """The curve over `observations`; the risk table has a row at 0, every, 2*every, ... up to
    the last time (only the day-0 row, of 0, when there is no one)."""
    if not 1 <= risk_table_every <= RISK_TABLE_EVERY_MAX:
        raise ValueError(f"risk_table_every must be 1..{RISK_TABLE_EVERY_MAX} days")
    days, observed = _sample(observations)
    fitted = fit_kaplan_meier(days, observed, transform=transform)
    steps = {int(step.time): step for step in fitted.steps}
    ordered = sorted(days)
    events = Counter(day for day, event in zip(days, observed, strict=True) if event)
    censored = Counter(day for day, event in zip(days, observed, strict=True) if not event)
    points = [CurvePoint(0, 1.0, 1.0, 1.0, len(days), 0, 0)] if days else []
    for day in sorted(set(ordered)):
        step = steps.get(day)
        at_risk = _at_risk(ordered, day)
        if step is not None:
            _check_step(step, at_risk, events[day])
            survival, band = step.survival, step.ci95
        else:  # censoring only: S and its band carry over from the last event
            survival, band = points[-1].survival, _band(points[-1])
        low, high = band if band is not None else (None, None)
        points.append(CurvePoint(day, survival, low, high, at_risk, events[day], censored[day]))
    last = ordered[-1] if ordered else 0
    return SurvivalCurve(
        n=fitted.subjects,
        events=fitted.events,
        points=tuple(points),
        censor_marks=tuple(sorted(censored)),
        risk_table=tuple(RiskRow(day, _at_risk(ordered, day))
                         for day in range(0, last + 1, risk_table_every)),
    )


def _sample(observations: Iterable[Observation]) -> tuple[list[int], list[bool]]:
    """(days, events), refusing what is not a whole number of days >= 1 (docs/rules.md)."""
    days: list[int] = []
    observed: list[bool] = []
    for item in observations:
        day, event = (item.days, item.event) if isinstance(item, TimeToEvent) else item
        if isinstance(day, bool) or not isinstance(day, int) or day < 1:
            raise ValueError(f"a time to event is a whole number of days >= 1, not {day!r}")
        days.append(day)
        observed.append(bool(event))
    return days, observed


def _at_risk(ordered: Sequence[int], day: int) -> int:
    """Subjects whose time is `day` or later (`ordered` is sorted): at risk just before it."""
    return len(ordered) - bisect_left(ordered, day)


def _band(point: CurvePoint) -> tuple[float, float] | None:
    return None if point.lower is None or point.upper is None else (point.lower, point.upper)


def _check_step(step: KaplanMeierStep, at_risk: int, events: int) -> None:
    """The fit and the counts here describe the same sample; anything else is a defect."""
    if (step.at_risk, step.events) != (at_risk, events):
        raise AssertionError(f"Kaplan-Meier step at {step.time} disagrees with the sample")
