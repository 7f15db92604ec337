"""The edges of the response rules (docs/rules.md sections 2-10), one trial story per test.

Each story sits exactly on a boundary the rules draw: a baseline of exactly five targets, an
mRECIST new lesion of exactly 10 mm, a nadir of 0 mm read again, a read on the day treatment
starts, confirmation across two NE reads, two scans on one day, a read stored without its
optional lists, one more read assessed after the others. A rule that moved its edge by one
(`>` for `>=`, `<` for `<=`) would fail here; the mutation-testing run of docs/validation.md
(section 5) holds them to that.

Treatment starts 2026-01-05 (day 0); `history((42, "PR"), ...)` puts a read with that overall
response on that elapsed day.
"""

from __future__ import annotations

from datetime import date

from domain.response import (
    BestOverallResponse,
    Read,
    Response,
    baseline_problems,
    evaluate,
    first_progression_on,
    followup_problems,
)
from domain.response.reads import stored_read
from domain.response.timepoint import assess_next, evaluation
from tests.unit.response.response_builders import (
    TREATMENT_START,
    day,
    history,
    new,
    node,
    non_target,
    read,
    sized,
    target,
    week,
)
from tests.unit.response.test_response_best import bor

PD, NE, CR, PR, SD = Response.PD, Response.NE, Response.CR, Response.PR, Response.SD

# --- Baseline checks (section 3)


def test_a_baseline_of_exactly_five_targets_is_recordable() -> None:
    # Two liver, two lung and one node: five targets, at most two per organ.
    five = read(
        target("T1", 42), target("T2", 25), target("T3", 18, "lung"), target("T4", 12, "lung"),
        node("T5", 16),
    )
    assert baseline_problems("RECIST 1.1", five) == []
    assert baseline_problems("mRECIST", five) == []
    six = read(*five.targets, target("T6", 20, "bone"))
    assert baseline_problems("RECIST 1.1", six) == [
        "RECIST 1.1 baseline has 6 target lesions; at most 5 are allowed"
    ]


def test_a_baseline_target_of_exactly_the_minimum_size_is_recordable() -> None:
    # 10 mm liver target, 15 mm node (RECIST); 10 mm viable diameter for both (mRECIST).
    assert baseline_problems("RECIST 1.1", read(target("T1", 10.0), node("T2", 15.0))) == []
    assert baseline_problems("mRECIST", read(target("T1", 10.0), node("T2", 10.0))) == []


# --- New lesions (section 8)


def test_an_mrecist_new_lesion_of_exactly_10_mm_is_progression() -> None:
    # Baseline 40 mm; at week 6 the target is 36 mm (SD) and a typical, unequivocal new HCC
    # nodule of exactly 10 mm appears: it counts, so the read is PD.
    def week_6_with_new_lesion(mm: float) -> Response:
        followup = read(target("T1", 36), new_lesions=(new("N1", mm),))
        return evaluate("mRECIST", sized(40), [(week(6), followup)])[0].overall

    assert week_6_with_new_lesion(10.0) is PD
    assert week_6_with_new_lesion(9.9) is SD


# --- Target response (sections 5-6)


def test_mrecist_complete_response_read_twice_is_not_progression() -> None:
    # No viable tumour at week 6 (nadir 0 mm) and again at week 12: 0 mm against a nadir of
    # 0 mm is not above it, so the second read is CR, not PD.
    followups = [(week(6), sized(0, 0)), (week(12), sized(0, 0))]
    points = evaluate("mRECIST", sized(30, 20), followups)
    assert [(p.overall, p.nadir_mm) for p in points] == [(CR, 50.0), (CR, 0.0)]
    recist = evaluate("RECIST 1.1", sized(30, 20), followups)
    assert [p.overall for p in recist] == [CR, CR]


def test_mrecist_regrowth_from_a_nadir_of_zero_is_progression() -> None:
    # After a 0 mm nadir, any viable tumour is PD under mRECIST (no 5 mm rule); under
    # RECIST 1.1, 4 mm is below the 5 mm absolute increase, and still a PR from 50 mm.
    followups = [(week(6), sized(0, 0)), (week(12), sized(4, 0))]
    assert [p.overall for p in evaluate("mRECIST", sized(30, 20), followups)] == [CR, PD]
    assert [p.overall for p in evaluate("RECIST 1.1", sized(30, 20), followups)] == [CR, PR]


# --- Which reads count, and confirmation (section 10)


def test_a_read_on_the_day_treatment_starts_is_not_the_first_progression() -> None:
    timepoints = history((0, "PD"), (42, "SD"), (84, "PD"))
    assert first_progression_on(timepoints, after=TREATMENT_START) == day(84)


def test_pr_ne_ne_pr_pr_confirms_from_the_pr_after_the_two_nes() -> None:
    # PR day 42, NE day 84, NE day 126: two NEs, so the day-42 PR is not confirmed. The PR on
    # day 168 is confirmed by the PR on day 210 (42 days later): the response starts day 168.
    assert bor((42, "PR"), (84, "NE"), (126, "NE"), (168, "PR"), (210, "PR")) == (
        BestOverallResponse(PR, PR, day(168), None)
    )


def test_cr_ne_ne_cr_cr_confirms_a_cr_from_the_cr_after_the_two_nes() -> None:
    assert bor((42, "CR"), (84, "NE"), (126, "NE"), (168, "CR"), (196, "CR")) == (
        BestOverallResponse(CR, CR, day(168), None)
    )


def test_an_sd_on_day_42_counts_as_stable_disease() -> None:
    # SD_MIN_DAYS: an SD read at least 42 elapsed days after treatment start is SD.
    assert bor((42, "SD")) == BestOverallResponse(SD, SD, None, None)
    assert bor((41, "SD")) == BestOverallResponse(NE, NE, None, None)


def test_a_baseline_listing_two_new_lesions_names_both() -> None:
    baseline = read(target("T1", 40), new_lesions=(new("N1", 12), new("N2", 15)))
    assert baseline_problems("mRECIST", baseline) == [
        "mRECIST baseline lists new lesions (N1, N2); a baseline has none"
    ]


def test_a_follow_up_target_against_a_baseline_without_targets_says_there_are_none() -> None:
    followup = read(target("T1", 30))
    assert followup_problems("RECIST 1.1", read(), followup) == [
        "RECIST 1.1 follow-up target T1 (liver) is not a baseline target (baseline targets: none)"
    ]


# --- Reads as stored in the log (section 2)


def test_a_stored_read_keeps_its_non_targets_and_loads_without_the_optional_lists() -> None:
    recorded = read(
        target("T1", 30), non_targets=(non_target("NT1", "present"),),
        new_lesions=(new("N1", 12),),
    )
    assert stored_read(recorded.model_dump()) == recorded
    only_targets = stored_read({"targets": [{"lesion_id": "T1", "organ": "liver",
                                             "diameter_mm": 30.0}]})
    assert (only_targets.non_targets, only_targets.new_lesions) == ([], [])
    assert stored_read({}).targets == []


# --- Assessing one more read after the others (the incremental path of the outcome facts)


def followups_to_week(n: int) -> list[tuple[date, Read]]:
    """Baseline 40 mm; SD at week 6, PR at week 12 and, from week 18, a new 12 mm HCC nodule."""
    reads = {6: sized(36), 12: sized(26), 18: read(target("T1", 24),
                                                    new_lesions=(new("N1", 12),))}
    return [(week(w), reads[w]) for w in (6, 12, 18) if w <= n]


def test_one_more_read_after_the_others_is_assessed_as_if_all_were_evaluated() -> None:
    # Week 18 brings a qualifying new lesion no earlier read showed: nothing back-dates, so
    # the one new response is the one evaluating all three reads gives.
    before = evaluation("mRECIST", sized(40), followups_to_week(12))
    after = assess_next("mRECIST", sized(40), before, *followups_to_week(18)[-1])
    assert after == evaluation("mRECIST", sized(40), followups_to_week(18))
    assert after is not None and (after.points[-1].overall, after.points[-1].backdated) == (
        PD, False
    )


def test_one_more_read_on_the_day_of_the_last_one_is_evaluated_with_all_of_them() -> None:
    before = evaluation("mRECIST", sized(40), followups_to_week(12))
    assert assess_next("mRECIST", sized(40), before, week(12), sized(30)) is None


def test_two_scans_read_on_the_same_day_are_both_assessed_in_the_order_given() -> None:
    # A CT and an MRI on the week-6 day, then week 12: the same-day reads keep their order.
    points = evaluate(
        "RECIST 1.1", sized(40), [(week(12), sized(20)), (week(6), sized(36)), (week(6), sized(26))]
    )
    assert [(p.on, p.overall) for p in points] == [(week(6), SD), (week(6), PR), (week(12), PR)]


def test_one_more_read_is_assessed_under_its_own_criterion() -> None:
    # mRECIST: no viable tumour at week 6, 4 mm of viable tumour at week 12 is PD (no 5 mm
    # rule); the same numbers under RECIST 1.1 would be a PR.
    followups = [(week(6), sized(0, 0)), (week(12), sized(4, 0))]
    before = evaluation("mRECIST", sized(30, 20), followups[:1])
    after = assess_next("mRECIST", sized(30, 20), before, *followups[1])
    assert after == evaluation("mRECIST", sized(30, 20), followups)
    assert after is not None and after.points[-1].overall is PD
