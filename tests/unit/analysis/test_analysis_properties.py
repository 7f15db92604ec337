"""Hypothesis properties of the estimators: intervals hold their estimates, S never rises."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.analysis.binomial import clopper_pearson
from domain.analysis.confidence_bands import CI_TRANSFORMS, CITransform
from domain.analysis.kaplan_meier import (
    KaplanMeierCurve,
    fit_kaplan_meier,
    landmark_survival,
    survival_at,
)
from domain.analysis.median_survival import median_survival
from domain.analysis.time_to_event import (
    AdequateRead,
    ParticipantOutcomes,
    overall_survival,
    progression_free_survival,
)
from domain.protocol import LANDMARK_MONTHS

EPS = 1e-12

samples = st.lists(
    st.tuples(st.integers(min_value=1, max_value=800), st.booleans()), min_size=1, max_size=60
)
transforms = st.sampled_from(CI_TRANSFORMS)


def fit(sample: list[tuple[int, bool]], transform: CITransform) -> KaplanMeierCurve:
    """Fit (duration, event) pairs."""
    return fit_kaplan_meier([t for t, _ in sample], [e for _, e in sample], transform=transform)


@given(samples, transforms)
def test_every_pointwise_interval_contains_its_estimate(
    sample: list[tuple[int, bool]], transform: CITransform
) -> None:
    for step in fit(sample, transform).steps:
        assert 0.0 <= step.survival <= 1.0
        if step.ci95 is not None:
            low, high = step.ci95
            assert low >= 0.0 and high <= 1.0
            assert low - EPS <= step.survival <= high + EPS


@given(samples, transforms)
def test_survival_is_non_increasing(sample: list[tuple[int, bool]], transform: CITransform) -> None:
    curve = fit(sample, transform)
    values = [survival_at(curve, t).estimate for t in range(0, 802, 7)]
    estimable = [v for v in values if v is not None]
    assert estimable == sorted(estimable, reverse=True)
    assert estimable[0] == 1.0


@given(samples, transforms)
def test_landmark_rates_lie_in_the_unit_interval(
    sample: list[tuple[int, bool]], transform: CITransform
) -> None:
    curve = fit(sample, transform)
    for months in LANDMARK_MONTHS:
        rate = landmark_survival(curve, months)
        if rate.estimate is not None:
            assert 0.0 <= rate.estimate <= 1.0
        if rate.ci95 is not None:
            assert rate.estimate is not None
            assert (
                0.0
                <= rate.ci95[0]
                <= rate.estimate + EPS
                <= rate.ci95[1] + 2 * EPS
                <= 1.0 + 3 * EPS
            )


@given(samples, transforms)
def test_median_lies_within_its_brookmeyer_crowley_limits(
    sample: list[tuple[int, bool]], transform: CITransform
) -> None:
    median = median_survival(fit(sample, transform))
    low, high = median.ci95
    if median.estimate is not None:
        assert low is not None and low <= median.estimate
        assert high is None or median.estimate <= high
    else:
        assert high is None


@given(
    st.integers(min_value=0, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )
)
@settings(max_examples=200)
def test_proportion_interval_contains_its_rate(count_n: tuple[int, int]) -> None:
    count, n = count_n
    result = clopper_pearson(count, n)
    if n == 0:
        assert result.rate is None and result.ci95 is None
        return
    assert result.rate is not None and result.ci95 is not None
    assert 0.0 <= result.ci95[0] <= result.rate <= result.ci95[1] <= 1.0


START = date(2025, 1, 1)
offsets = st.integers(min_value=1, max_value=700)


@given(
    reads=st.lists(st.tuples(offsets, st.booleans()), max_size=12),
    death=st.none() | offsets,
    therapy=st.none() | offsets,
    cutoff=offsets,
)
def test_times_to_event_start_at_day_one_and_never_pass_the_cutoff(
    reads: list[tuple[int, bool]], death: int | None, therapy: int | None, cutoff: int
) -> None:
    outcomes = ParticipantOutcomes(
        treatment_start_on=START,
        adequate_reads=[AdequateRead(START + timedelta(days=d), pd) for d, pd in reads],
        death_on=None if death is None else START + timedelta(days=death),
        offprotocol_therapy_on=None if therapy is None else START + timedelta(days=therapy),
    )
    cutoff_on = START + timedelta(days=cutoff)
    pfs = progression_free_survival(outcomes, cutoff_on)
    os = overall_survival(outcomes, cutoff_on)
    assert pfs is not None and os is not None
    assert 1 <= pfs.days <= cutoff + 1 and 1 <= os.days <= cutoff + 1
    assert (pfs.censor_reason is None) == pfs.event
    assert pfs.days <= os.days or not os.event
