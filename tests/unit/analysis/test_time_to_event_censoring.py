"""Hand-worked OS, PFS and DOR scenarios for every censoring rule in docs/rules.md "Endpoints"."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.analysis.time_to_event import (
    ALIVE_AT_CUTOFF,
    ALIVE_AT_LAST_CONTACT,
    NEW_ANTICANCER_THERAPY,
    NO_ADEQUATE_ASSESSMENT,
    NO_EVENT_BY_CUTOFF,
    TWO_MISSED_ASSESSMENTS,
    AdequateRead,
    ParticipantOutcomes,
    TimeToEvent,
    duration_of_response,
    overall_survival,
    progression_free_survival,
    time_to_event_days,
)

START = date(2025, 1, 1)
CUTOFF = date(2025, 12, 31)
WEEK_6 = date(2025, 2, 12)  # day 43
WEEK_12 = date(2025, 3, 26)  # day 85
WEEK_18 = date(2025, 5, 7)  # day 127


def sd(on: date) -> AdequateRead:
    """A non-PD adequate read."""
    return AdequateRead(on, False)


def pd(on: date) -> AdequateRead:
    """A PD read."""
    return AdequateRead(on, True)


def outcomes(*reads: AdequateRead, **fields: date | None) -> ParticipantOutcomes:
    """A treated participant starting on START."""
    return ParticipantOutcomes(treatment_start_on=START, adequate_reads=reads, **fields)


def test_days_count_the_start_day() -> None:
    assert time_to_event_days(START, START) == 1
    assert time_to_event_days(START, WEEK_12) == 85
    with pytest.raises(ValueError, match="before it starts"):
        time_to_event_days(WEEK_12, START)


def test_two_missed_assessments_censor_pd_at_the_last_adequate_read() -> None:
    late_pd = date(2025, 8, 1)  # 128 elapsed days after WEEK_12
    pfs = progression_free_survival(outcomes(sd(WEEK_6), sd(WEEK_12), pd(late_pd)), CUTOFF)
    assert pfs == TimeToEvent(85, False, TWO_MISSED_ASSESSMENTS)


def test_two_missed_assessments_censor_death_at_the_last_adequate_read() -> None:
    death = WEEK_12 + timedelta(days=99)
    result = outcomes(sd(WEEK_6), sd(WEEK_12), death_on=death)
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        85, False, TWO_MISSED_ASSESSMENTS
    )
    assert overall_survival(result, CUTOFF) == TimeToEvent(184, True, None)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (98, TimeToEvent(85 + 98, True, None)),
        (99, TimeToEvent(85, False, TWO_MISSED_ASSESSMENTS)),
    ],
)
def test_pd_at_98_elapsed_days_is_an_event_and_at_99_is_censored(
    gap: int, expected: TimeToEvent
) -> None:
    progression = WEEK_12 + timedelta(days=gap)
    assert (
        progression_free_survival(outcomes(sd(WEEK_6), sd(WEEK_12), pd(progression)), CUTOFF)
        == expected
    )


def test_off_protocol_therapy_censors_at_the_last_adequate_read_before_it() -> None:
    therapy = date(2025, 5, 20)
    result = outcomes(
        sd(WEEK_6),
        sd(WEEK_12),
        sd(WEEK_18),
        pd(date(2025, 6, 18)),
        offprotocol_therapy_on=therapy,
        death_on=date(2025, 7, 1),
    )
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        127, False, NEW_ANTICANCER_THERAPY
    )
    assert overall_survival(result, CUTOFF) == TimeToEvent(182, True, None)


def test_pd_before_off_protocol_therapy_is_still_an_event() -> None:
    result = outcomes(sd(WEEK_6), pd(WEEK_12), offprotocol_therapy_on=date(2025, 4, 2))
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(85, True, None)


def test_pd_read_on_the_day_therapy_starts_is_not_before_it() -> None:
    result = outcomes(sd(WEEK_6), pd(WEEK_12), offprotocol_therapy_on=WEEK_12)
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        43, False, NEW_ANTICANCER_THERAPY
    )


def test_therapy_before_any_read_censors_at_start() -> None:
    only_later_reads = outcomes(sd(WEEK_12), offprotocol_therapy_on=WEEK_6)
    assert progression_free_survival(only_later_reads, CUTOFF) == TimeToEvent(
        1, False, NEW_ANTICANCER_THERAPY
    )
    never_scanned = outcomes(offprotocol_therapy_on=WEEK_6)
    assert progression_free_survival(never_scanned, CUTOFF) == TimeToEvent(
        1, False, NO_ADEQUATE_ASSESSMENT
    )


def test_off_protocol_therapy_after_cutoff_is_ignored() -> None:
    cutoff = date(2025, 6, 30)
    result = outcomes(sd(WEEK_6), sd(WEEK_12), offprotocol_therapy_on=date(2025, 7, 15))
    assert progression_free_survival(result, cutoff) == TimeToEvent(85, False, NO_EVENT_BY_CUTOFF)


def test_death_after_cutoff_is_not_an_outcome_but_shows_alive_at_cutoff() -> None:
    cutoff = date(2025, 6, 30)
    result = outcomes(
        sd(WEEK_6),
        sd(WEEK_12),
        sd(WEEK_18),
        death_on=date(2025, 7, 10),
        last_known_alive_on=date(2025, 6, 1),
    )
    assert progression_free_survival(result, cutoff) == TimeToEvent(127, False, NO_EVENT_BY_CUTOFF)
    assert overall_survival(result, cutoff) == TimeToEvent(181, False, ALIVE_AT_CUTOFF)


def test_scans_after_cutoff_do_not_count() -> None:
    cutoff = date(2025, 6, 30)
    result = outcomes(sd(WEEK_6), sd(WEEK_12), sd(WEEK_18), pd(date(2025, 7, 2)))
    assert progression_free_survival(result, cutoff) == TimeToEvent(127, False, NO_EVENT_BY_CUTOFF)
    assert overall_survival(result, cutoff) == TimeToEvent(181, False, ALIVE_AT_CUTOFF)


def test_no_post_baseline_read_and_no_death_censors_at_start() -> None:
    result = outcomes(last_known_alive_on=date(2025, 3, 1))
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        1, False, NO_ADEQUATE_ASSESSMENT
    )
    assert overall_survival(result, CUTOFF) == TimeToEvent(60, False, ALIVE_AT_LAST_CONTACT)


def test_reads_on_or_before_treatment_start_are_not_post_baseline() -> None:
    result = outcomes(sd(START - timedelta(days=5)), sd(START))
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        1, False, NO_ADEQUATE_ASSESSMENT
    )


def test_death_with_no_missed_reads_is_an_event_at_the_death_date() -> None:
    death = date(2025, 5, 15)  # 50 days after WEEK_12
    result = outcomes(sd(WEEK_6), sd(WEEK_12), death_on=death)
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(135, True, None)
    assert overall_survival(result, CUTOFF) == TimeToEvent(135, True, None)


def test_early_death_without_any_read_is_an_event() -> None:
    result = outcomes(death_on=START + timedelta(days=98))
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(99, True, None)


def test_late_death_without_any_read_is_censored_at_start_as_missed() -> None:
    result = outcomes(death_on=START + timedelta(days=99))
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(
        1, False, TWO_MISSED_ASSESSMENTS
    )


def test_no_event_by_cutoff_censors_at_the_last_adequate_read_on_or_before_it() -> None:
    result = outcomes(sd(WEEK_6), sd(WEEK_12), sd(WEEK_18), last_known_alive_on=date(2025, 9, 1))
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(127, False, NO_EVENT_BY_CUTOFF)
    assert overall_survival(result, CUTOFF) == TimeToEvent(244, False, ALIVE_AT_LAST_CONTACT)


def test_os_death_on_the_cutoff_is_an_event_and_later_contact_caps_at_cutoff() -> None:
    assert overall_survival(outcomes(death_on=CUTOFF), CUTOFF) == TimeToEvent(365, True, None)
    late_contact = outcomes(last_known_alive_on=date(2026, 2, 1))
    assert overall_survival(late_contact, CUTOFF) == TimeToEvent(365, False, ALIVE_AT_CUTOFF)


def test_untreated_participant_has_no_time_to_event() -> None:
    untreated = ParticipantOutcomes(
        treatment_start_on=None, adequate_reads=(), response_start_on=WEEK_12
    )
    assert overall_survival(untreated, CUTOFF) is None
    assert progression_free_survival(untreated, CUTOFF) is None
    assert duration_of_response(untreated, CUTOFF) is None


def test_dor_runs_from_the_first_read_of_the_response_to_pd() -> None:
    progression = date(2025, 7, 2)  # 56 days after WEEK_18
    result = outcomes(
        sd(WEEK_6), sd(WEEK_12), sd(WEEK_18), pd(progression), response_start_on=WEEK_12
    )
    assert duration_of_response(result, CUTOFF) == TimeToEvent(99, True, None)
    assert progression_free_survival(result, CUTOFF) == TimeToEvent(183, True, None)


def test_dor_is_censored_like_pfs() -> None:
    missed = outcomes(sd(WEEK_12), sd(WEEK_18), pd(date(2025, 9, 1)), response_start_on=WEEK_12)
    assert duration_of_response(missed, CUTOFF) == TimeToEvent(43, False, TWO_MISSED_ASSESSMENTS)
    ongoing = outcomes(sd(WEEK_12), sd(WEEK_18), response_start_on=WEEK_12)
    assert duration_of_response(ongoing, CUTOFF) == TimeToEvent(43, False, NO_EVENT_BY_CUTOFF)


def test_dor_does_not_apply_to_non_responders() -> None:
    assert duration_of_response(outcomes(sd(WEEK_6), pd(WEEK_12)), CUTOFF) is None


def test_months_are_days_over_30_4375() -> None:
    assert TimeToEvent(365, True, None).months == pytest.approx(365 / 30.4375)
