"""Exact Clopper-Pearson intervals against every row of the docs/validation.md table."""

from __future__ import annotations

import pytest

from domain.analysis.binomial import Proportion, clopper_pearson

TWO_DP_PERCENT = 0.005


@pytest.mark.parametrize(
    ("count", "n", "low_pct", "high_pct"),
    [
        (0, 10, 0.0, 30.85),
        (1, 10, 0.25, 44.50),
        (5, 10, 18.71, 81.29),
        (10, 10, 69.15, 100.0),
        (7, 30, 9.93, 42.28),
        (12, 40, 16.56, 46.53),
        (47, 80, 47.18, 69.65),
        (65, 80, 70.97, 89.11),
        (24, 70, 23.35, 46.60),
        (27, 120, 15.38, 31.02),
    ],
)
def test_matches_published_interval(count: int, n: int, low_pct: float, high_pct: float) -> None:
    result = clopper_pearson(count, n)
    assert result.rate == count / n
    assert result.ci95 is not None
    assert 100 * result.ci95[0] == pytest.approx(low_pct, abs=TWO_DP_PERCENT)
    assert 100 * result.ci95[1] == pytest.approx(high_pct, abs=TWO_DP_PERCENT)


def test_boundaries_are_exactly_zero_and_one() -> None:
    none_of_ten, all_of_ten = clopper_pearson(0, 10).ci95, clopper_pearson(10, 10).ci95
    assert none_of_ten is not None and none_of_ten[0] == 0.0
    assert all_of_ten is not None and all_of_ten[1] == 1.0


def test_empty_denominator_has_no_rate_and_no_interval() -> None:
    assert clopper_pearson(0, 0) == Proportion(count=0, n=0, rate=None, ci95=None)


@pytest.mark.parametrize(("count", "n"), [(-1, 10), (11, 10), (1, 0), (0, -1)])
def test_rejects_impossible_counts(count: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= count <= n"):
        clopper_pearson(count, n)


def test_equals_scipys_root_finding_exact_interval_for_every_count() -> None:
    """The beta-quantile form is the interval binomtest's exact method finds by root-finding."""
    from scipy.stats import binomtest

    for n in (*range(1, 41), 57, 100, 163, 250, 1000):
        for count in sorted({*range(0, n + 1, max(1, n // 40)), n}):
            expected = binomtest(count, n).proportion_ci(confidence_level=0.95, method="exact")
            got = clopper_pearson(count, n).ci95
            assert got is not None
            assert abs(got[0] - expected.low) < 1e-9 and abs(got[1] - expected.high) < 1e-9, (
                count, n, got, expected)
