"""The median tie rule, Brookmeyer-Crowley limits and S(t) edge cases, hand-worked."""

from __future__ import annotations

import math

import pytest

from domain.analysis.kaplan_meier import fit_kaplan_meier, landmark_survival, survival_at
from domain.analysis.median_survival import MedianSurvival, median_survival, median_time
from domain.protocol import DAYS_PER_MONTH


def test_median_is_first_time_survival_drops_to_or_below_half() -> None:
    curve = fit_kaplan_meier([1, 2, 3, 4, 5], [True, True, True, True, True])
    assert [s.survival for s in curve.steps] == pytest.approx([0.8, 0.6, 0.4, 0.2, 0.0])
    assert median_time(curve) == 3


def test_flat_at_half_takes_midpoint_to_next_event_time_skipping_censorings() -> None:
    curve = fit_kaplan_meier([2, 4, 5, 6, 9, 10], [True, True, False, False, True, True])
    # S: 5/6 at 2, 4/6 at 4, censor 5 and 6 leave 2 at risk, S = 4/6 * 1/2 = 1/3 at 9.
    assert median_time(curve) == 9
    tie = fit_kaplan_meier([1, 2, 3, 5, 7, 8], [True, True, True, False, True, True])
    # S: 5/6, 4/6, 3/6 = 0.5 at 3; censor at 5; next event time 7 -> median (3 + 7) / 2.
    assert tie.steps[2].survival == pytest.approx(0.5)
    assert median_time(tie) == 5.0


def test_flat_at_half_to_the_end_takes_midpoint_with_last_follow_up() -> None:
    curve = fit_kaplan_meier([1, 2, 10, 14], [True, True, False, False])
    assert curve.steps[-1].survival == 0.5
    assert median_time(curve) == 8.0  # R survival: (2 + 14) / 2


def test_median_not_reached_is_none_while_the_lower_limit_may_be_reached() -> None:
    curve = fit_kaplan_meier([5, 8, 12, 20], [True, False, False, False])
    # S(5) = 0.75 with 4 at risk: the log-log lower band (0.19) is already below 0.5.
    assert median_survival(curve).estimate is None
    assert median_survival(curve).ci95 == (5, None)
    never = fit_kaplan_meier([5, 8, 12, 20] * 10, [True, False, False, False] * 10)
    assert median_survival(never).ci95 == (None, None)


def test_lower_band_counts_as_zero_once_survival_reaches_zero() -> None:
    median = median_survival(fit_kaplan_meier([1], [True]))
    # R leaves the band undefined at S = 0 and prints NA; a lower bound of 0 is the only sense.
    assert median == MedianSurvival(estimate=1.0, ci95=(1.0, None))


def test_empty_sample_has_nothing_to_estimate() -> None:
    curve = fit_kaplan_meier([], [])
    assert (curve.subjects, curve.events, curve.steps) == (0, 0, ())
    assert survival_at(curve, 10).estimate is None
    assert median_survival(curve).estimate is None


def test_all_censored_stays_at_one_with_a_degenerate_interval() -> None:
    curve = fit_kaplan_meier([3, 5, 8], [False, False, False])
    assert curve.steps == ()
    estimate = survival_at(curve, 6)
    assert (estimate.estimate, estimate.ci95) == (1.0, (1.0, 1.0))


def test_step_function_is_right_continuous() -> None:
    curve = fit_kaplan_meier([2, 4, 6, 8], [True, True, True, False])
    assert survival_at(curve, 3.999).estimate == 0.75
    assert survival_at(curve, 4).estimate == 0.5
    assert survival_at(curve, 0).ci95 == (1.0, 1.0)


def test_not_estimable_beyond_follow_up_unless_survival_reached_zero() -> None:
    censored_last = fit_kaplan_meier([2, 4, 6, 8], [True, True, True, False])
    assert survival_at(censored_last, 8).estimate == 0.25
    assert survival_at(censored_last, 8.5).estimate is None
    event_last = fit_kaplan_meier([2, 4], [True, True])
    beyond = survival_at(event_last, 100)
    assert (beyond.estimate, beyond.ci95) == (0.0, None)


@pytest.mark.parametrize("transform", ["log-log", "log", "plain"])
def test_interval_undefined_where_survival_is_zero(transform: str) -> None:
    curve = fit_kaplan_meier([1, 2, 3], [True, True, True], transform=transform)  # type: ignore[arg-type]
    assert curve.steps[-1].survival == 0.0
    assert curve.steps[-1].ci95 is None
    assert curve.steps[0].ci95 is not None


def test_log_and_plain_bands_by_hand() -> None:
    curve_log = fit_kaplan_meier([1, 2, 3, 4], [True, False, True, False], transform="log")
    curve_plain = fit_kaplan_meier([1, 2, 3, 4], [True, False, True, False], transform="plain")
    # At t = 3: S = 3/4 * 1/2 = 0.375; Greenwood sum = 1/(4*3) + 1/(2*1) = 7/12.
    greenwood = 1 / 12 + 1 / 2
    z = 1.959963984540054
    s = 0.375
    assert curve_log.steps[1].greenwood == pytest.approx(greenwood)
    assert curve_log.steps[1].ci95 == pytest.approx((s * math.exp(-z * greenwood**0.5), 1.0))
    assert curve_plain.steps[1].ci95 == pytest.approx((0.0, min(1.0, s + z * s * greenwood**0.5)))


def test_landmark_months_use_30_4375_days() -> None:
    six_months = 6 * DAYS_PER_MONTH  # 182.625 days
    curve = fit_kaplan_meier([182, 183, 400, 500], [True, True, False, False])
    assert landmark_survival(curve, 6).time == six_months
    assert landmark_survival(curve, 6).estimate == 0.75
    assert landmark_survival(curve, 12).estimate == 0.5


def test_rejects_malformed_samples() -> None:
    with pytest.raises(ValueError, match="same length"):
        fit_kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError, match="non-negative"):
        fit_kaplan_meier([-1, 2], [True, True])


def test_unknown_transform_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown confidence interval transform"):
        fit_kaplan_meier([1, 2], [True, True], transform="arcsine")  # type: ignore[arg-type]
