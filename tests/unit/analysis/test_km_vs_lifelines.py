"""Cross-check S(t) and log-log bands against lifelines' KaplanMeierFitter on random data."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from domain.analysis.kaplan_meier import KaplanMeierCurve, fit_kaplan_meier, survival_at
from domain.analysis.median_survival import median_survival

TOLERANCE = 1e-9


def random_sample(seed: int, size: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """Exponential event times against uniform censoring; integer days when `ties`."""
    rng = np.random.default_rng(seed)
    event_times = rng.exponential(300.0, size)
    censor_times = rng.uniform(0.0, 600.0, size)
    times = np.minimum(event_times, censor_times)
    if ties:
        times = np.ceil(times)
    return times, event_times <= censor_times


def lifelines_fit(times: np.ndarray, events: np.ndarray) -> KaplanMeierFitter:
    """lifelines' default CI is the exponential Greenwood (log-log) interval."""
    return KaplanMeierFitter().fit(times, events, alpha=0.05)


def has_flat_at_half(curve: KaplanMeierCurve) -> bool:
    """The case where R/SAS and lifelines define the median differently."""
    return any(abs(step.survival - 0.5) <= 1e-9 for step in curve.steps)


SAMPLES = [(seed, size, ties) for seed in range(12) for size, ties in ((15, True), (60, False))]


@pytest.mark.parametrize(("seed", "size", "ties"), SAMPLES)
def test_survival_and_log_log_band_match_lifelines(seed: int, size: int, ties: bool) -> None:
    times, events = random_sample(seed, size, ties)
    ours = fit_kaplan_meier(times.tolist(), events.tolist(), transform="log-log")
    theirs = lifelines_fit(times, events)
    bands = theirs.confidence_interval_.to_numpy()
    for t, s, (low, high) in zip(
        theirs.timeline, theirs.survival_function_.to_numpy()[:, 0], bands, strict=True
    ):
        estimate = survival_at(ours, float(t))
        assert estimate.estimate == pytest.approx(s, abs=TOLERANCE)
        if s == 0.0:
            assert estimate.ci95 is None  # lifelines prints (0, 0); R and we leave it undefined
            continue
        assert estimate.ci95 == pytest.approx((low, high), abs=TOLERANCE)


@pytest.mark.parametrize(("seed", "size", "ties"), SAMPLES)
def test_median_matches_lifelines_without_a_flat_at_half(seed: int, size: int, ties: bool) -> None:
    times, events = random_sample(seed, size, ties)
    ours = fit_kaplan_meier(times.tolist(), events.tolist())
    if has_flat_at_half(ours):
        pytest.skip("flat at S = 0.5: covered by the tie-rule tests")
    theirs = lifelines_fit(times, events).median_survival_time_
    median = median_survival(ours).estimate
    if np.isinf(theirs):
        assert median is None
    else:
        assert median == theirs


def test_lifelines_takes_the_start_of_a_flat_at_half_where_r_takes_the_midpoint() -> None:
    times, events = [1.0, 2.0, 3.0, 4.0], [True, True, True, True]
    ours = fit_kaplan_meier(times, events)
    assert [step.survival for step in ours.steps] == [0.75, 0.5, 0.25, 0.0]
    assert lifelines_fit(np.array(times), np.array(events)).median_survival_time_ == 2.0
    assert median_survival(ours).estimate == 2.5  # R: median(survfit(Surv(1:4, rep(1, 4)) ~ 1))
