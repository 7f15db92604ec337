"""Best overall response: windows, the 42-day SD rule and 28-day confirmation.

Treatment starts 2026-01-05 (day 0); `history((42, "PR"), ...)` puts a read with that
overall response on that elapsed day.
"""

from __future__ import annotations

from domain.response import (
    BestOverallResponse,
    Response,
    best_overall_response,
    evaluate,
    first_progression_on,
)
from tests.unit.response.response_builders import (
    TREATMENT_START,
    day,
    history,
    new,
    read,
    sized,
    target,
    week,
)

PD, NE, CR, PR, SD = Response.PD, Response.NE, Response.CR, Response.PR, Response.SD


def bor(*visits: tuple[int, str], therapy_day: int | None = None) -> BestOverallResponse:
    therapy_start_on = None if therapy_day is None else day(therapy_day)
    return best_overall_response(history(*visits), TREATMENT_START, therapy_start_on)


def test_no_follow_up_is_ne() -> None:
    assert bor() == BestOverallResponse(NE, NE, None, None)


def test_confirmed_cr_at_exactly_28_days() -> None:
    # CR on day 42 and again on day 70: 70 - 42 = 28 elapsed days -> confirmed from day 42.
    assert bor((42, "CR"), (70, "CR")) == BestOverallResponse(CR, CR, day(42), None)


def test_cr_not_confirmed_when_the_second_cr_is_21_days_later() -> None:
    # Baseline 25 mm; gone on day 42 and on day 63 (21 days later, < 28): CR unconfirmed.
    # Confirmed BOR falls back to SD: the day-42 CR is at >= 42 days.
    timepoints = evaluate("RECIST 1.1", sized(25), [(day(42), sized(0)), (day(63), sized(0))])
    assert [t.overall for t in timepoints] == [CR, CR]
    assert best_overall_response(timepoints, TREATMENT_START) == BestOverallResponse(
        SD, CR, None, None
    )


def test_27_days_do_not_confirm() -> None:
    assert bor((42, "PR"), (69, "PR")).confirmed is SD


def test_sd_before_day_42_is_ne_for_bor() -> None:
    # SD on day 35 only: too early to count as SD -> NE, both ways.
    assert bor((35, "SD")) == BestOverallResponse(NE, NE, None, None)
    # Followed by PD on day 77: PD beats NE.
    assert bor((35, "SD"), (77, "PD")) == BestOverallResponse(PD, PD, None, day(77))
    # SD exactly on day 42 counts.
    assert bor((42, "SD")) == BestOverallResponse(SD, SD, None, None)


def test_early_unconfirmed_pr_is_not_sd() -> None:
    # A PR on day 30 then PD on day 50: the PR is before day 42, so it cannot stand in
    # for SD; confirmed BOR is PD, unconfirmed PR.
    assert bor((30, "PR"), (50, "PD")) == BestOverallResponse(PD, PR, None, day(50))


def test_early_responses_confirm_without_the_42_day_rule() -> None:
    # PR on day 21 and on day 49: 28 days apart -> confirmed PR from day 21.
    assert bor((21, "PR"), (49, "PR")) == BestOverallResponse(PR, PR, day(21), None)


def test_confirmed_pr_with_one_ne_between() -> None:
    # PR week 6 (day 42), NE week 12, PR week 18 (day 126): one NE between -> confirmed PR,
    # the response starting on day 42.
    assert bor((42, "PR"), (84, "NE"), (126, "PR")) == BestOverallResponse(PR, PR, day(42), None)


def test_two_ne_between_do_not_confirm() -> None:
    assert bor((42, "PR"), (84, "NE"), (126, "NE"), (168, "PR")) == BestOverallResponse(
        SD, PR, None, None
    )


def test_cr_confirmed_across_one_ne_but_not_across_a_pr() -> None:
    assert bor((42, "CR"), (63, "NE"), (84, "CR")).confirmed is CR
    # CR, PR, CR: the PR between breaks CR confirmation, but CR/PR pairs confirm a PR.
    assert bor((42, "CR"), (84, "PR"), (126, "CR")) == BestOverallResponse(PR, CR, day(42), None)


def test_pr_confirmed_by_a_later_cr_is_a_confirmed_pr() -> None:
    assert bor((42, "PR"), (84, "CR")) == BestOverallResponse(PR, CR, day(42), None)


def test_sd_between_two_prs_breaks_confirmation() -> None:
    # Baseline 50. Week 6: 30 (-40%, PR; nadir 30). Week 12: 35.5 (-29%, SD; PD needs 36).
    # Week 18: 30 (PR). The SD between breaks it -> confirmed SD, unconfirmed PR.
    followups = [(week(6), sized(30)), (week(12), sized(35.5)), (week(18), sized(30))]
    timepoints = evaluate("RECIST 1.1", sized(50), followups)
    assert [t.overall for t in timepoints] == [PR, SD, PR]
    assert best_overall_response(timepoints, TREATMENT_START) == BestOverallResponse(
        SD, PR, None, None
    )
    # A further PR at week 24 confirms the week-18 PR: the response starts at week 18.
    timepoints = evaluate("RECIST 1.1", sized(50), [*followups, (week(24), sized(29))])
    assert best_overall_response(timepoints, TREATMENT_START) == BestOverallResponse(
        PR, PR, week(18), None
    )


def test_an_early_sd_still_breaks_confirmation() -> None:
    # PR day 14, SD day 28, PR day 56: the day-28 SD is NE when picking the best response
    # but it still shows the response was lost, so the PRs do not confirm each other.
    assert bor((14, "PR"), (28, "SD"), (56, "PR")) == BestOverallResponse(SD, PR, None, None)


def test_reads_after_off_protocol_therapy_are_ignored() -> None:
    # PR on days 42, 84, 126; off-protocol therapy from day 70: only day 42 counts, so no
    # confirmation (confirmed SD, the PR being at >= 42 days).
    assert bor((42, "PR"), (84, "PR"), (126, "PR"), therapy_day=70) == BestOverallResponse(
        SD, PR, None, None
    )
    # A read on the day the therapy starts is not before it.
    assert bor((42, "PR"), (84, "PR"), therapy_day=84).confirmed is SD


def test_reads_after_the_first_pd_are_ignored() -> None:
    # Baseline 40. Week 6: 30 (SD) with an equivocal nodule N1; week 12: 26 (PR) and N1
    # unequivocal -> PD back-dated to week 6. Weeks 12 and 18 (PRs) come after that PD.
    timepoints = evaluate(
        "RECIST 1.1",
        sized(40),
        [
            (week(6), read(target("T1", 30), new_lesions=(new("N1", 6, unequivocal=False),))),
            (week(12), read(target("T1", 26), new_lesions=(new("N1", 11),))),
            (week(18), read(target("T1", 20))),
        ],
    )
    assert [t.overall for t in timepoints] == [PD, PD, PR]
    assert best_overall_response(timepoints, TREATMENT_START) == BestOverallResponse(
        PD, PD, None, week(6)
    )
    assert first_progression_on(timepoints) == week(6)


def test_pd_then_responses_do_not_count() -> None:
    assert bor((42, "PD"), (84, "PR"), (126, "PR")) == BestOverallResponse(PD, PD, None, day(42))


def test_reads_on_or_before_treatment_start_are_ignored() -> None:
    assert bor((-7, "PR"), (0, "PR"), (42, "SD")) == BestOverallResponse(SD, SD, None, None)


def test_first_progression_on_can_skip_early_reads() -> None:
    timepoints = history((-3, "PD"), (42, "SD"), (84, "PD"), (126, "PD"))
    assert first_progression_on(timepoints) == day(-3)
    assert first_progression_on(timepoints, after=TREATMENT_START) == day(84)
    assert first_progression_on(history((42, "SD"))) is None


def test_pd_after_off_protocol_therapy_is_not_the_bor_pd() -> None:
    result = bor((42, "SD"), (84, "PD"), therapy_day=60)
    assert result == BestOverallResponse(SD, SD, None, None)
