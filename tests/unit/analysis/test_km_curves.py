"""Curve points for plots (domain/analysis/curves.py) against lifelines' KaplanMeierFitter on
random whole-day samples with ties, and against the published Freireich figures of
docs/validation.md section 1b."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from domain.analysis.curves import RISK_TABLE_EVERY_MAX, CurvePoint, survival_curve
from domain.analysis.kaplan_meier import fit_kaplan_meier
from domain.analysis.median_survival import median_survival
from domain.analysis.time_to_event import TimeToEvent

TOLERANCE = 1e-9
FOUR_DP = 0.00005
Sample = tuple[list[float], list[bool]]


def whole_day_sample(seed: int, size: int, longest: int) -> list[tuple[int, bool]]:
    """Days 1..longest drawn with replacement, so many subjects share a day, and about a third
    censored, so events and censorings fall on the same days."""
    rng = np.random.default_rng(seed)
    days = rng.integers(1, longest + 1, size)
    events = rng.random(size) < 0.65
    return [(int(d), bool(e)) for d, e in zip(days, events, strict=True)]


def lifelines_fit(sample: list[tuple[int, bool]]) -> KaplanMeierFitter:
    """lifelines' default band is the exponential Greenwood (log-log) interval."""
    days, events = zip(*sample, strict=True)
    return KaplanMeierFitter().fit(np.array(days), np.array(events), alpha=0.05)


SAMPLES = [(seed, size, longest) for seed in range(10)
           for size, longest in ((12, 8), (40, 30), (150, 400))]


@pytest.mark.parametrize(("seed", "size", "longest"), SAMPLES)
def test_points_match_lifelines_event_table_survival_and_band(
        seed: int, size: int, longest: int) -> None:
    sample = whole_day_sample(seed, size, longest)
    curve = survival_curve(sample)
    theirs = lifelines_fit(sample)
    table = theirs.event_table
    survival = theirs.survival_function_.iloc[:, 0]
    band = theirs.confidence_interval_
    assert [p.day for p in curve.points] == [int(t) for t in table.index]  # 0 first, as lifelines
    for point in curve.points:
        row = table.loc[float(point.day)]
        assert (point.at_risk, point.events, point.censored) == (
            row["at_risk"], row["observed"], row["censored"]), point
        assert point.survival == pytest.approx(survival.loc[float(point.day)], abs=TOLERANCE)
        low, high = band.loc[float(point.day)]
        if point.survival == 0.0:
            assert (point.lower, point.upper) == (None, None)  # lifelines prints (0, 0)
        else:
            assert (point.lower, point.upper) == pytest.approx((low, high), abs=TOLERANCE)
    assert (curve.n, curve.events) == (size, int(table["observed"].sum()))
    assert list(curve.censor_marks) == [int(t) for t in table.index[table["censored"] > 0]]


@pytest.mark.parametrize(("seed", "size", "longest"), SAMPLES)
@pytest.mark.parametrize("every", [1, 7, 90])
def test_risk_table_is_lifelines_at_risk_at_each_row_day(
        seed: int, size: int, longest: int, every: int) -> None:
    sample = whole_day_sample(seed, size, longest)
    curve = survival_curve(sample, risk_table_every=every)
    table = lifelines_fit(sample).event_table
    last = max(day for day, _ in sample)
    assert [row.day for row in curve.risk_table] == list(range(0, last + 1, every))
    for row in curve.risk_table:
        later = table[table.index >= row.day]
        assert row.at_risk == (int(later["at_risk"].iloc[0]) if len(later) else 0), row
    assert curve.risk_table[0].at_risk == size


def test_the_samples_tie_events_with_censorings_on_the_same_day() -> None:
    tied = [p for seed, size, longest in SAMPLES
            for p in survival_curve(whole_day_sample(seed, size, longest)).points
            if p.events > 1 and p.censored > 0]
    assert len(tied) >= 10


@pytest.mark.parametrize(("seed", "size", "longest"), SAMPLES)
def test_the_first_day_at_or_below_half_is_the_reports_median_off_a_flat_at_half(
        seed: int, size: int, longest: int) -> None:
    sample = whole_day_sample(seed, size, longest)
    curve = survival_curve(sample)
    report = median_survival(fit_kaplan_meier(*zip(*sample, strict=True)))
    crossing = next((p for p in curve.points if p.survival <= 0.5), None)
    if crossing is not None and abs(crossing.survival - 0.5) <= 1e-9:
        pytest.skip("flat at S = 0.5: the report takes the midpoint (test_km_median_rule.py)")
    assert (None if crossing is None else crossing.day) == report.estimate


def test_a_censoring_only_day_carries_the_survival_and_band_over() -> None:
    curve = survival_curve([(3, True), (5, False), (5, False), (8, True), (9, False)])
    by_day = {p.day: p for p in curve.points}
    assert by_day[5] == CurvePoint(5, by_day[3].survival, by_day[3].lower, by_day[3].upper,
                                   at_risk=4, events=0, censored=2)
    assert by_day[8].survival == pytest.approx(0.8 * 0.5)
    assert curve.censor_marks == (5, 9)
    assert [(r.day, r.at_risk) for r in survival_curve(
        [(3, True), (5, False), (5, False), (8, True), (9, False)], risk_table_every=4
    ).risk_table] == [(0, 5), (4, 4), (8, 2)]


def test_time_to_event_records_and_pairs_give_the_same_curve() -> None:
    pairs = [(1, False), (43, True), (85, False), (169, True)]
    records = [TimeToEvent(d, e, None if e else "no progression or death by cutoff")
               for d, e in pairs]
    assert survival_curve(records) == survival_curve(pairs)


def test_an_empty_sample_has_no_points_and_nobody_at_risk() -> None:
    curve = survival_curve([])
    assert (curve.n, curve.events, curve.points, curve.censor_marks) == (0, 0, (), ())
    assert curve.to_dict()["risk_table"] == [{"day": 0, "at_risk": 0}]


def test_everyone_censored_stays_at_one() -> None:
    curve = survival_curve([(10, False), (20, False)])
    assert [(p.day, p.survival, p.lower, p.upper) for p in curve.points] == [
        (0, 1.0, 1.0, 1.0), (10, 1.0, 1.0, 1.0), (20, 1.0, 1.0, 1.0)]


@pytest.mark.parametrize("bad", [(0, True), (-3, False), (2.5, True), (True, True)])
def test_a_time_that_is_not_a_whole_day_from_one_is_refused(bad: tuple[object, bool]) -> None:
    with pytest.raises(ValueError, match="whole number of days"):
        survival_curve([(5, True), bad])  # type: ignore[list-item]


@pytest.mark.parametrize("every", [0, -1, RISK_TABLE_EVERY_MAX + 1])
def test_a_risk_table_spacing_out_of_range_is_refused(every: int) -> None:
    with pytest.raises(ValueError, match="risk_table_every"):
        survival_curve([(5, True)], risk_table_every=every)


def _as_days(sample: Sample) -> list[tuple[int, bool]]:
    """The Freireich times are whole weeks; the curve takes them as whole units the same way."""
    return [(int(t), e) for t, e in zip(*sample, strict=True)]


@pytest.mark.parametrize(
    ("week", "published", "at_risk", "events"),
    [
        (6, (0.8571, 0.6197, 0.9516), 21, 3),
        (10, (0.7529, 0.5032, 0.8894), 15, 1),
        (13, (0.6902, 0.4316, 0.8491), 12, 1),
        (22, (0.5378, 0.2678, 0.7468), 7, 1),
        (23, (0.4482, 0.1881, 0.6801), 6, 1),
    ],
)
def test_six_mp_steps_are_the_published_figures(
        six_mp: Sample, week: int, published: tuple[float, float, float], at_risk: int,
        events: int) -> None:
    """docs/validation.md 1b (R survfit, log-log); n.risk and n.event as R's summary prints."""
    point = next(p for p in survival_curve(_as_days(six_mp)).points if p.day == week)
    assert (point.survival, point.lower, point.upper) == pytest.approx(published, abs=FOUR_DP)
    assert (point.at_risk, point.events) == (at_risk, events)


@pytest.mark.parametrize(
    ("week", "published"),
    [(4, (0.6667, 0.4254, 0.8250)), (8, (0.3810, 0.1831, 0.5778)),
     (12, (0.1905, 0.0595, 0.3774))],
)
def test_placebo_steps_are_the_published_figures(
        placebo: Sample, week: int, published: tuple[float, float, float]) -> None:
    curve = survival_curve(_as_days(placebo))
    point = next(p for p in curve.points if p.day == week)
    assert (point.survival, point.lower, point.upper) == pytest.approx(published, abs=FOUR_DP)
    assert (curve.n, curve.events, curve.censor_marks) == (21, 21, ())
    assert next(p.day for p in curve.points if p.survival <= 0.5) == 8  # published median


def test_six_mp_counts_and_censoring_ticks(six_mp: Sample) -> None:
    curve = survival_curve(_as_days(six_mp))
    assert (curve.n, curve.events) == (21, 9)
    assert curve.censor_marks == (6, 9, 10, 11, 17, 19, 20, 25, 32, 34, 35)
    assert next(p.day for p in curve.points if p.survival <= 0.5) == 23  # published median
