"""Median survival and its Brookmeyer-Crowley interval (docs/rules.md, "Kaplan-Meier")."""

from __future__ import annotations

from dataclasses import dataclass

from domain.analysis.kaplan_meier import KaplanMeierCurve, KaplanMeierStep
from domain.protocol import MEDIAN_TIE_TOLERANCE

HALF = 0.5


@dataclass(frozen=True, slots=True)
class MedianSurvival:
    """Median time and its 95% limits; each None when the curve or band never reaches 0.5."""

    estimate: float | None
    ci95: tuple[float | None, float | None]


def median_survival(curve: KaplanMeierCurve) -> MedianSurvival:
    """The median with the R/SAS tie rule and the Brookmeyer-Crowley limits of the curve's band."""
    return MedianSurvival(
        estimate=median_time(curve),
        ci95=(_first_band_crossing(curve, lower=True), _first_band_crossing(curve, lower=False)),
    )


def median_time(curve: KaplanMeierCurve) -> float | None:
    """Smallest t with S(t) <= 0.5; if S = 0.5 (+-1e-9) on a flat, the midpoint of its start and
    the next event time (R survival / SAS; the last follow-up time when no event follows)."""
    steps = curve.steps
    for index, step in enumerate(steps):
        if step.survival <= HALF + MEDIAN_TIE_TOLERANCE:
            if abs(step.survival - HALF) > MEDIAN_TIE_TOLERANCE:
                return step.time
            return (step.time + _flat_end(curve, index)) / 2
    return None


def _flat_end(curve: KaplanMeierCurve, index: int) -> float:
    """Where a flat starting at steps[index] ends: the next event time, else the last follow-up."""
    if index + 1 < len(curve.steps):
        return curve.steps[index + 1].time
    assert curve.last_observed_time is not None
    return curve.last_observed_time


def _first_band_crossing(curve: KaplanMeierCurve, *, lower: bool) -> float | None:
    """Brookmeyer-Crowley: the first event time where the lower (upper) band is <= 0.5."""
    for step in curve.steps:
        bound = _bound(step, lower)
        if bound is not None and bound <= HALF:
            return step.time
    return None


def _bound(step: KaplanMeierStep, lower: bool) -> float | None:
    """One side of the step's band; where S = 0 the lower side is 0 and the upper undefined."""
    if step.ci95 is None:
        return 0.0 if lower and step.survival == 0.0 else None
    return step.ci95[0] if lower else step.ci95[1]
