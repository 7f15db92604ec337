"""The edges of the endpoint rules (docs/rules.md sections 12-18), one trial story per test.

Each story sits exactly on a boundary the rules draw with "on or before", "before", "after"
or "at least": the cutoff day, the day new therapy starts, the day of a scan, the worst grade
of a term. A rule that moved its edge by one day or one comparison would fail here (the
mutation-testing run of docs/validation.md holds them to that). Kaplan-Meier counts and
intervals are checked against lifelines and scipy, never against this code's own output.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from scipy.stats import binomtest, norm

from domain.analysis.binomial import clopper_pearson
from domain.analysis.kaplan_meier import (
    KaplanMeierCurve,
    SurvivalEstimate,
    fit_kaplan_meier,
    survival_at,
)
from domain.analysis.median_survival import median_time
from domain.analysis.safety import safety_report
from domain.analysis.time_to_event import (
    NEW_ANTICANCER_THERAPY,
    NO_ADEQUATE_ASSESSMENT,
    NO_EVENT_BY_CUTOFF,
    TWO_MISSED_ASSESSMENTS,
    TimeToEvent,
    duration_of_response,
    overall_survival,
    progression_free_survival,
)
from tests.unit.analysis.test_km_curves import SAMPLES, whole_day_sample
from tests.unit.analysis.test_safety_tables import HYPERTENSION, STARTS, ae, grades, rows
from tests.unit.analysis.test_time_to_event_censoring import (
    CUTOFF,
    WEEK_6,
    WEEK_12,
    WEEK_18,
    outcomes,
    pd,
    sd,
)

TOLERANCE = 1e-9
NINETY = 0.90

# --- PFS, DOR and OS at the cutoff day D and at the day new therapy starts (sections 13-15)


def test_progression_read_on_the_cutoff_day_counts_as_an_event() -> None:
    # SD at weeks 6 and 12, PD read at week 18, and the cutoff is the day of that read.
    result = outcomes(sd(WEEK_6), sd(WEEK_12), pd(WEEK_18))
    assert progression_free_survival(result, WEEK_18) == TimeToEvent(127, True, None)
    assert progression_free_survival(result, WEEK_18 - timedelta(days=1)) == TimeToEvent(
        85, False, NO_EVENT_BY_CUTOFF
    )


def test_death_on_the_cutoff_day_ends_pfs_as_an_event() -> None:
    result = outcomes(sd(WEEK_6), sd(WEEK_12), death_on=WEEK_18)
    assert progression_free_survival(result, WEEK_18) == TimeToEvent(127, True, None)


def test_new_therapy_on_the_cutoff_day_censors_pfs_before_it() -> None:
    # SD reads at weeks 6, 12 and 18; off-protocol therapy starts on the cutoff day, week 18:
    # the week-18 read is not before the therapy, so PFS is censored at week 12.
    result = outcomes(sd(WEEK_6), sd(WEEK_12), sd(WEEK_18), offprotocol_therapy_on=WEEK_18)
    assert progression_free_survival(result, WEEK_18) == TimeToEvent(
        85, False, NEW_ANTICANCER_THERAPY
    )


def test_death_on_the_day_new_therapy_starts_is_not_a_pfs_event() -> None:
    # Docs: a death on or after the day off-protocol therapy starts is ignored for PFS;
    # it is still the OS event.
    result = outcomes(sd(WEEK_6), sd(WEEK_12), offprotocol_therapy_on=WEEK_18, death_on=WEEK_18)
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        85, False, NEW_ANTICANCER_THERAPY
    )
    assert overall_survival(result, CUTOFF) == TimeToEvent(127, True, None)


def test_death_on_the_day_of_a_scan_is_measured_from_that_scan() -> None:
    # SD at week 6, then no scan for 120 days, then an SD scan and death on the same day:
    # the scan that day is the last adequate read, 0 days before the death, so no gap.
    scan_and_death = WEEK_6 + timedelta(days=120)
    result = outcomes(sd(WEEK_6), sd(scan_and_death), death_on=scan_and_death)
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(163, True, None)
    without_that_scan = outcomes(sd(WEEK_6), death_on=scan_and_death)
    assert progression_free_survival(without_that_scan, CUTOFF) == TimeToEvent(
        43, False, TWO_MISSED_ASSESSMENTS
    )


def test_response_starting_on_the_cutoff_day_has_a_one_day_duration() -> None:
    # The response's first read is dated D: DOR starts on D and, with no read after it by D,
    # is censored at its start (1 day), as PFS is with no adequate read after treatment start.
    result = outcomes(sd(WEEK_6), sd(WEEK_12), response_start_on=WEEK_12)
    assert duration_of_response(result, WEEK_12) == TimeToEvent(1, False, NO_ADEQUATE_ASSESSMENT)
    assert duration_of_response(result, WEEK_12 - timedelta(days=1)) is None


# --- Kaplan-Meier counts on each step (section 17), against lifelines' event table


def lifelines_fit(sample: list[tuple[int, bool]], alpha: float) -> KaplanMeierFitter:
    """lifelines' band is the exponential Greenwood (log-log) interval at 1 - alpha."""
    days, events = zip(*sample, strict=True)
    return KaplanMeierFitter().fit(np.array(days), np.array(events), alpha=alpha)


def fit(sample: list[tuple[int, bool]], **options: object) -> KaplanMeierCurve:
    days, events = zip(*sample, strict=True)
    return fit_kaplan_meier([float(d) for d in days], list(events), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seed", "size", "longest"), SAMPLES)
def test_each_km_step_has_lifelines_at_risk_and_event_counts(
    seed: int, size: int, longest: int
) -> None:
    # Whole days drawn with replacement: events tie with events and with censorings.
    sample = whole_day_sample(seed, size, longest)
    table = lifelines_fit(sample, 0.05).event_table
    with_event = table[table["observed"] > 0]
    curve = fit(sample)
    assert [(step.time, step.at_risk, step.events) for step in curve.steps] == [
        (float(t), int(row["at_risk"]), int(row["observed"])) for t, row in with_event.iterrows()
    ]
    assert (curve.subjects, curve.events, curve.censored) == (
        size, int(table["observed"].sum()), int(table["censored"].sum())
    )
    assert curve.last_observed_time == float(max(day for day, _ in sample))


def test_a_km_step_shared_by_two_deaths_and_a_censoring_counts_all_three_at_risk() -> None:
    # Day 5: two deaths and one censoring; all three were at risk just before day 5.
    sample = [(2, True), (5, True), (5, True), (5, False), (9, True)]
    table = lifelines_fit(sample, 0.05).event_table
    steps = fit(sample).steps
    assert (steps[1].at_risk, steps[1].events) == (table.loc[5.0, "at_risk"], 2) == (4, 2)


# --- Intervals at a confidence level other than 0.95 (sections 12 and 17)


@pytest.mark.parametrize(("seed", "size", "longest"), SAMPLES[:6])
def test_a_90_percent_log_log_band_is_lifelines_at_alpha_0_10(
    seed: int, size: int, longest: int
) -> None:
    sample = whole_day_sample(seed, size, longest)
    theirs = lifelines_fit(sample, 1 - NINETY)
    band = theirs.confidence_interval_
    curve = fit(sample, transform="log-log", confidence_level=NINETY)
    assert curve.confidence_level == NINETY
    for step in curve.steps:
        if step.survival == 0.0:
            assert step.ci95 is None
            continue
        assert step.ci95 == pytest.approx(tuple(band.loc[step.time]), abs=TOLERANCE)


def greenwood_from_lifelines(theirs: KaplanMeierFitter) -> dict[float, tuple[float, float]]:
    """Per event time: S and Greenwood's sum of d / (n (n - d)), from lifelines' table."""
    table = theirs.event_table
    survival = theirs.survival_function_.iloc[:, 0]
    total, out = 0.0, {}
    for t, row in table.iterrows():
        deaths, at_risk = float(row["observed"]), float(row["at_risk"])
        if deaths > 0:
            total += deaths / (at_risk * (at_risk - deaths)) if at_risk > deaths else np.inf
            out[float(t)] = (float(survival.loc[t]), total)
    return out


@pytest.mark.parametrize(("seed", "size", "longest"), SAMPLES[:6])
def test_90_percent_log_and_plain_bands_use_the_90_percent_normal_quantile(
    seed: int, size: int, longest: int
) -> None:
    # R survfit(conf.int = 0.9, conf.type = "log" / "plain"): z = 1.6449, computed here from
    # lifelines' estimate and event table with scipy's normal quantile.
    sample = whole_day_sample(seed, size, longest)
    reference = greenwood_from_lifelines(lifelines_fit(sample, 1 - NINETY))
    z = float(norm.ppf(0.5 + NINETY / 2))
    log_curve = fit(sample, transform="log", confidence_level=NINETY)
    plain_curve = fit(sample, transform="plain", confidence_level=NINETY)
    for log_step, plain_step in zip(log_curve.steps, plain_curve.steps, strict=True):
        s, greenwood = reference[log_step.time]
        if s == 0.0:
            assert log_step.ci95 is None and plain_step.ci95 is None
            continue
        spread = np.exp(z * np.sqrt(greenwood))
        assert log_step.ci95 == pytest.approx((s / spread, min(s * spread, 1.0)), abs=TOLERANCE)
        half_width = z * s * np.sqrt(greenwood)
        assert plain_step.ci95 == pytest.approx(
            (max(s - half_width, 0.0), min(s + half_width, 1.0)), abs=TOLERANCE
        )


@pytest.mark.parametrize(("count", "n"), [(0, 12), (1, 12), (7, 19), (12, 12), (33, 57)])
def test_a_90_percent_clopper_pearson_interval_is_scipys(count: int, n: int) -> None:
    expected = binomtest(count, n).proportion_ci(confidence_level=NINETY, method="exact")
    assert clopper_pearson(count, n, NINETY).ci95 == pytest.approx(
        (expected.low, expected.high), abs=TOLERANCE
    )


# --- A term's worst grade (section 18)


def test_a_lower_grade_after_a_higher_one_keeps_the_term_at_its_worst_grade() -> None:
    # Grade 3 hypertension in February, then grade 1 hypertension in April: counted once, at 3.
    events = [
        ae("HCC-01-001", HYPERTENSION, date(2025, 2, 1), 3),
        ae("HCC-01-001", HYPERTENSION, date(2025, 4, 1), 1),
    ]
    report = safety_report(events, STARTS)
    assert rows(report, "any_grade") == {HYPERTENSION: (1, 25.0, grades(g3=1))}
    assert rows(report, "grade_3_or_higher") == {HYPERTENSION: (1, 25.0, grades(g3=1))}


def test_an_adverse_event_starting_on_the_day_treatment_starts_is_treatment_emergent() -> None:
    # Docs: onset on or after the treatment start, and on or before D; HCC-01-001 starts
    # treatment on 2025-01-10 and the cutoff is the day of the onset.
    onset = STARTS["HCC-01-001"]
    report = safety_report([ae("HCC-01-001", HYPERTENSION, onset, 2)], STARTS, cutoff=onset)
    assert report.treated == 1
    assert rows(report, "any_grade") == {HYPERTENSION: (1, 100.0, grades(g2=1))}


def test_each_safety_table_carries_its_title() -> None:
    tables = safety_report([], STARTS).to_dict()["tables"]
    assert {name: table["title"] for name, table in tables.items()} == {
        "any_grade": "TEAEs of any grade",
        "grade_3_or_higher": "Grade >= 3 TEAEs",
        "serious": "Serious TEAEs",
        "related_to_camrelizumab": "TEAEs related to camrelizumab",
        "related_to_apatinib": "TEAEs related to apatinib",
        "related_to_tace": "TEAEs related to TACE",
        "leading_to_discontinuation": "TEAEs leading to discontinuation",
        "grade_5": "Grade 5 (fatal) TEAEs",
    }


# --- The median on a flat at one half, and S(t) where it is read (section 17)


def test_a_flat_at_half_before_the_last_death_ends_at_that_death() -> None:
    # Deaths on days 1 and 2 (S = 0.5), the last death on day 4 (S = 0.25), one follow-up to
    # day 6: the flat at 0.5 ends at the next death, day 4, so the median is (2 + 4) / 2 = 3
    # (R: median(survfit(Surv(c(1, 2, 4, 6), c(1, 1, 1, 0)) ~ 1)) is 3), not (2 + 6) / 2.
    curve = fit_kaplan_meier([1, 2, 4, 6], [True, True, True, False])
    assert [step.survival for step in curve.steps] == [0.75, 0.5, 0.25]
    assert median_time(curve) == 3.0


def test_survival_is_reported_at_the_time_it_was_asked_for() -> None:
    curve = fit_kaplan_meier([10, 20, 30], [True, False, True])
    assert survival_at(curve, 5) == SurvivalEstimate(5.0, 1.0, (1.0, 1.0))
    assert survival_at(curve, 45) == SurvivalEstimate(45.0, 0.0, None)  # S reached 0 at 30
    open_ended = fit_kaplan_meier([10, 20], [True, False])
    assert survival_at(open_ended, 25) == SurvivalEstimate(25.0, None, None)
    assert survival_at(fit_kaplan_meier([], []), 7) == SurvivalEstimate(7.0, None, None)


def test_events_given_as_one_and_zero_mean_event_and_censored() -> None:
    # As lifelines reads an event column: 1 = event, 0 = censored.
    as_flags = fit_kaplan_meier([3, 5, 8, 9], [True, False, True, True])
    as_numbers = fit_kaplan_meier(np.array([3, 5, 8, 9]), np.array([1, 0, 1, 1]))  # type: ignore[arg-type]
    assert as_numbers == as_flags


def test_a_duration_of_zero_is_accepted_and_negative_or_infinite_ones_refused() -> None:
    curve = fit_kaplan_meier([0, 4], [True, False])
    assert [(step.time, step.survival) for step in curve.steps] == [(0.0, 0.5)]
    message = "^durations must be finite and non-negative$"
    for bad in ([-1.0, 2.0], [np.inf, 2.0]):
        with pytest.raises(ValueError, match=message):
            fit_kaplan_meier(bad, [True, True])
    with pytest.raises(
        ValueError, match="^durations and events must be flat sequences of the same length$"
    ):
        fit_kaplan_meier([1, 2], [True])


def test_a_curve_records_its_transform_and_level_even_when_empty() -> None:
    for durations, events in (([], []), ([3, 5], [True, False])):
        curve = fit_kaplan_meier(durations, events, transform="log", confidence_level=NINETY)
        assert (curve.transform, curve.confidence_level) == ("log", NINETY)
