"""Every Kaplan-Meier figure in docs/validation.md, compared at its printed precision."""

from __future__ import annotations

import pytest

from domain.analysis.confidence_bands import CITransform
from domain.analysis.kaplan_meier import fit_kaplan_meier, survival_at
from domain.analysis.median_survival import median_survival

Sample = tuple[list[float], list[bool]]
FOUR_DP = 0.00005
THREE_DP = 0.0005


def assert_survival(
    sample: Sample,
    t: float,
    transform: CITransform,
    published: tuple[float, float, float],
    tol: float,
) -> None:
    """S(t) and both bounds within half a unit of the last printed digit."""
    estimate = survival_at(fit_kaplan_meier(*sample, transform=transform), t)
    assert estimate.estimate is not None and estimate.ci95 is not None
    ours = (estimate.estimate, *estimate.ci95)
    assert ours == pytest.approx(published, abs=tol), f"S({t}) {transform}: {ours} vs {published}"


def test_lung_has_228_rows_and_165_deaths(lung: Sample) -> None:
    curve = fit_kaplan_meier(*lung)
    assert (curve.subjects, curve.events, curve.censored) == (228, 165, 63)


def test_lung_median_and_log_ci_match_r_survfit_default(lung: Sample) -> None:
    median = median_survival(fit_kaplan_meier(*lung, transform="log"))
    assert median.estimate == 310
    assert median.ci95 == (285, 363)


def test_lung_median_ci_with_log_log(lung: Sample) -> None:
    median = median_survival(fit_kaplan_meier(*lung, transform="log-log"))
    assert median.estimate == 310
    assert median.ci95 == (284, 361)


def test_lung_one_year_survival_log_ci(lung: Sample) -> None:
    assert_survival(lung, 365, "log", (0.409, 0.345, 0.486), THREE_DP)


@pytest.mark.parametrize(
    ("t", "published"),
    [
        (180, (0.7217, 0.6583, 0.7753)),
        (365, (0.4092, 0.3387, 0.4784)),
        (730, (0.1157, 0.0676, 0.1778)),
    ],
)
def test_lung_survival_log_log_ci(
    lung: Sample, t: float, published: tuple[float, float, float]
) -> None:
    assert_survival(lung, t, "log-log", published, FOUR_DP)


def test_six_mp_counts(six_mp: Sample) -> None:
    curve = fit_kaplan_meier(*six_mp)
    assert (curve.subjects, curve.events) == (21, 9)


@pytest.mark.parametrize(("transform", "lower"), [("log", 16), ("log-log", 13)])
def test_six_mp_median_upper_limit_not_reached(
    six_mp: Sample, transform: CITransform, lower: float
) -> None:
    median = median_survival(fit_kaplan_meier(*six_mp, transform=transform))
    assert median.estimate == 23
    assert median.ci95 == (lower, None)


@pytest.mark.parametrize(
    ("t", "published"),
    [
        (6, (0.8571, 0.6197, 0.9516)),
        (10, (0.7529, 0.5032, 0.8894)),
        (13, (0.6902, 0.4316, 0.8491)),
        (22, (0.5378, 0.2678, 0.7468)),
        (23, (0.4482, 0.1881, 0.6801)),
    ],
)
def test_six_mp_survival_log_log_ci(
    six_mp: Sample, t: float, published: tuple[float, float, float]
) -> None:
    assert_survival(six_mp, t, "log-log", published, FOUR_DP)


def test_placebo_counts(placebo: Sample) -> None:
    curve = fit_kaplan_meier(*placebo)
    assert (curve.subjects, curve.events) == (21, 21)


@pytest.mark.parametrize(("transform", "limits"), [("log", (4, 12)), ("log-log", (4, 11))])
def test_placebo_median_and_ci(
    placebo: Sample, transform: CITransform, limits: tuple[float, float]
) -> None:
    median = median_survival(fit_kaplan_meier(*placebo, transform=transform))
    assert median.estimate == 8
    assert median.ci95 == limits


@pytest.mark.parametrize(
    ("t", "published"),
    [
        (4, (0.6667, 0.4254, 0.8250)),
        (8, (0.3810, 0.1831, 0.5778)),
        (12, (0.1905, 0.0595, 0.3774)),
    ],
)
def test_placebo_survival_log_log_ci(
    placebo: Sample, t: float, published: tuple[float, float, float]
) -> None:
    assert_survival(placebo, t, "log-log", published, FOUR_DP)
