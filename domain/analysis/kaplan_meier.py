"""Product-limit survival curve, S(t) and landmark rates (docs/rules.md "Kaplan-Meier")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import CensoredData, ecdf

from domain.analysis.confidence_bands import CITransform, greenwood_sums, pointwise_bands
from domain.protocol import CONFIDENCE_LEVEL, DAYS_PER_MONTH, KM_CI_TRANSFORM_DEFAULT


@dataclass(frozen=True, slots=True)
class KaplanMeierStep:
    """One distinct event time: at risk just before it, events at it, S and its band just after."""

    time: float
    at_risk: int
    events: int
    survival: float
    greenwood: float
    ci95: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class KaplanMeierCurve:
    """A fitted curve: its steps (event times only) and how far follow-up reaches."""

    steps: tuple[KaplanMeierStep, ...]
    subjects: int
    events: int
    last_observed_time: float | None
    transform: CITransform
    confidence_level: float

    @property
    def censored(self) -> int:
        """Subjects whose time is a censoring time."""
        return self.subjects - self.events


@dataclass(frozen=True, slots=True)
class SurvivalEstimate:
    """S(t) and its pointwise interval; None beyond follow-up / where the band is undefined."""

    time: float
    estimate: float | None
    ci95: tuple[float, float] | None


def fit_kaplan_meier(
    durations: Sequence[float],
    events: Sequence[bool],
    *,
    transform: CITransform = KM_CI_TRANSFORM_DEFAULT,
    confidence_level: float = CONFIDENCE_LEVEL,
) -> KaplanMeierCurve:
    """Product-limit estimate via scipy.stats.ecdf on CensoredData, with Greenwood bands."""
    times = np.asarray(durations, dtype=float)
    observed = np.asarray(events, dtype=bool)
    _check_sample(times, observed)
    if times.size == 0:
        return KaplanMeierCurve((), 0, 0, None, transform, confidence_level)
    sf = ecdf(CensoredData(uncensored=times[observed], right=times[~observed])).sf
    distinct = sf.quantiles
    at_risk = times.size - np.searchsorted(np.sort(times), distinct, side="left")
    event_times = np.sort(times[observed])
    first, past = (
        np.searchsorted(event_times, distinct),
        np.searchsorted(event_times, distinct, "right"),
    )
    deaths = past - first
    greenwood = greenwood_sums(at_risk, deaths)
    bands = pointwise_bands(sf, greenwood, transform, confidence_level)
    # Steps are the times with an event; columns go to Python values in one call each.
    with_event = deaths > 0
    rows = zip(distinct[with_event].tolist(), at_risk[with_event].tolist(),
               deaths[with_event].tolist(), sf.probabilities[with_event].tolist(),
               greenwood[with_event].tolist(),
               [band for band, kept in zip(bands, with_event.tolist(), strict=True) if kept],
               strict=True)
    steps = tuple(KaplanMeierStep(t, n, d, s, g, band) for t, n, d, s, g, band in rows)
    return KaplanMeierCurve(
        steps=steps,
        subjects=int(times.size),
        events=int(observed.sum()),
        last_observed_time=float(times.max()),
        transform=transform,
        confidence_level=confidence_level,
    )


def survival_at(curve: KaplanMeierCurve, t: float) -> SurvivalEstimate:
    """Right-continuous step S(t); not estimable (None) past the last follow-up unless S hit 0."""
    t = float(t)
    if curve.last_observed_time is None:
        return SurvivalEstimate(t, None, None)
    last = curve.steps[-1] if curve.steps else None
    if t > curve.last_observed_time and (last is None or last.survival > 0.0):
        return SurvivalEstimate(t, None, None)
    current = next((step for step in reversed(curve.steps) if step.time <= t), None)
    if current is None:
        return SurvivalEstimate(t, 1.0, (1.0, 1.0))
    return SurvivalEstimate(t, current.survival, current.ci95)


def landmark_survival(curve: KaplanMeierCurve, months: float) -> SurvivalEstimate:
    """docs/rules.md "Rates at 6 and 12 months": S(t) at t = months x 30.4375 days."""
    return survival_at(curve, months * DAYS_PER_MONTH)


def _check_sample(times: np.ndarray, observed: np.ndarray) -> None:
    """Reject samples the estimator cannot mean anything for."""
    if times.ndim != 1 or times.shape != observed.shape:
        raise ValueError("durations and events must be flat sequences of the same length")
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError("durations must be finite and non-negative")
