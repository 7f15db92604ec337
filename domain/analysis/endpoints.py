"""The `GET /api/v1/endpoints` body for one criterion (docs/api.md; docs/rules.md "Endpoints")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from domain.analysis.binomial import Proportion, clopper_pearson
from domain.analysis.confidence_bands import CITransform
from domain.analysis.kaplan_meier import SurvivalEstimate, fit_kaplan_meier, landmark_survival
from domain.analysis.median_survival import median_survival
from domain.analysis.time_to_event import TimeToEvent
from domain.protocol import DAYS_PER_MONTH, KM_CI_TRANSFORM_DEFAULT, LANDMARK_MONTHS, Criterion

BorCategory = Literal["CR", "PR", "SD", "PD", "NE"]
"""A best overall response as the endpoints count it (the class that derives it is
domain.response.BestOverallResponse)."""
BEST_OVERALL_RESPONSES: tuple[BorCategory, ...] = ("CR", "PR", "SD", "PD", "NE")
RESPONDERS: tuple[BorCategory, ...] = ("CR", "PR")
DISEASE_CONTROL: tuple[BorCategory, ...] = ("CR", "PR", "SD")

MONTHS_DECIMALS = 1
"""Medians and their limits in months to 1 decimal, as reports and docs/api.md print them."""
RATE_DECIMALS = 4
"""Rates and their limits as fractions to 4 decimals (0.5789 = 57.89%)."""


@dataclass(frozen=True, slots=True)
class ParticipantSummary:
    """One enrolled participant under one criterion: populations, confirmed BOR, times to event."""

    treated: bool
    evaluable: bool
    best_overall_response: BorCategory
    os: TimeToEvent | None = None
    pfs: TimeToEvent | None = None
    dor: TimeToEvent | None = None


def endpoints_report(
    summaries: Sequence[ParticipantSummary],
    *,
    criteria: Criterion,
    cutoff: date,
    as_of: datetime,
    transform: CITransform = KM_CI_TRANSFORM_DEFAULT,
) -> dict[str, Any]:
    """The whole docs/api.md endpoints body; KM sets are the treated with a time to event."""
    _check_consistent(summaries)
    treated = [s for s in summaries if s.treated]
    evaluable = [s for s in treated if s.evaluable]
    counts = Counter(s.best_overall_response for s in evaluable)
    orr = clopper_pearson(sum(counts[r] for r in RESPONDERS), len(evaluable))
    dcr = clopper_pearson(sum(counts[r] for r in DISEASE_CONTROL), len(evaluable))
    return {
        "criteria": criteria,
        "cutoff": cutoff.isoformat(),
        "as_of": rfc3339(as_of),
        "population": {
            "enrolled": len(summaries),
            "treated": len(treated),
            "evaluable": len(evaluable),
        },
        "best_overall_response": {r: counts[r] for r in BEST_OVERALL_RESPONSES},
        "orr": {"responders": orr.count, **_proportion_fields(orr)},
        "dcr": {"count": dcr.count, **_proportion_fields(dcr)},
        "dor": survival_block(
            [s.dor for s in treated if s.dor is not None], transform, landmarks=False
        ),
        "pfs": survival_block(
            [s.pfs for s in treated if s.pfs is not None], transform, landmarks=True
        ),
        "os": survival_block(
            [s.os for s in treated if s.os is not None], transform, landmarks=True
        ),
    }


def survival_block(
    times: Sequence[TimeToEvent], transform: CITransform, *, landmarks: bool
) -> dict[str, Any]:
    """Median (months) with Brookmeyer-Crowley limits, counts and, for PFS/OS, 6/12-month rates."""
    curve = fit_kaplan_meier([t.days for t in times], [t.event for t in times], transform=transform)
    median = median_survival(curve)
    block: dict[str, Any] = {
        "n": curve.subjects,
        "median_months": _months(median.estimate),
        "ci95": [_months(median.ci95[0]), _months(median.ci95[1])],
        "events": curve.events,
        "censored": curve.censored,
    }
    if landmarks:
        for months in LANDMARK_MONTHS:
            block[f"rate_{months}m"] = _rate(landmark_survival(curve, months))
    return block


def rfc3339(moment: datetime) -> str:
    """docs/api.md: times are RFC 3339 UTC with `Z`."""
    if moment.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _proportion_fields(proportion: Proportion) -> dict[str, Any]:
    """n, rate and ci95 rounded to 4 decimals; rate and ci95 null when n = 0."""
    ci95 = proportion.ci95
    return {
        "n": proportion.n,
        "rate": _round(proportion.rate, RATE_DECIMALS),
        "ci95": None if ci95 is None else [round(bound, RATE_DECIMALS) for bound in ci95],
    }


def _rate(estimate: SurvivalEstimate) -> dict[str, Any]:
    """{estimate, ci95}: null estimate past follow-up; null bounds where the band is undefined."""
    low, high = estimate.ci95 if estimate.ci95 is not None else (None, None)
    return {
        "estimate": _round(estimate.estimate, RATE_DECIMALS),
        "ci95": [_round(low, RATE_DECIMALS), _round(high, RATE_DECIMALS)],
    }


def _months(days: float | None) -> float | None:
    """docs/rules.md "Days": months = days / 30.4375, rounded for reporting."""
    return None if days is None else round(days / DAYS_PER_MONTH, MONTHS_DECIMALS)


def _round(value: float | None, decimals: int) -> float | None:
    """round() that passes None through."""
    return None if value is None else round(value, decimals)


def _check_consistent(summaries: Sequence[ParticipantSummary]) -> None:
    """Fail loudly on summaries that contradict the population and DOR rules."""
    for summary in summaries:
        if summary.evaluable and not summary.treated:
            raise ValueError("an evaluable participant must be treated (docs/rules.md populations)")
        if summary.dor is not None and summary.best_overall_response not in RESPONDERS:
            raise ValueError("DOR applies to confirmed responders only (docs/rules.md DOR)")
