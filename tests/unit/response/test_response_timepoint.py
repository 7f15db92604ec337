"""Time-point responses, one short story per rule; the arithmetic is worked in comments."""

from __future__ import annotations

from domain.response import NonTargetResponse, Response, evaluate
from tests.unit.response.response_builders import new, node, non_target, read, sized, target, week

PD, NE, CR, PR, SD = Response.PD, Response.NE, Response.CR, Response.PR, Response.SD


def test_pd_is_measured_from_the_nadir_not_the_baseline() -> None:
    # Baseline 50 + 30 = 80. Week 6: 30 + 20 = 50 (-37.5%, PR). Week 12: 24 + 16 = 40
    # (-50%, PR; the nadir is now 40). Week 18: 30 + 20 = 50, still below baseline 80,
    # but 50 >= 1.2 x 40 = 48 and 50 - 40 = 10 >= 5 mm -> PD.
    results = evaluate(
        "RECIST 1.1",
        sized(50, 30),
        [(week(6), sized(30, 20)), (week(12), sized(24, 16)), (week(18), sized(30, 20))],
    )
    assert [r.target for r in results] == [PR, PR, PD]
    assert [r.sum_mm for r in results] == [50.0, 40.0, 50.0]
    assert [r.nadir_mm for r in results] == [80.0, 50.0, 40.0]
    assert results[2].overall is PD


def test_the_5_mm_rule_applies_to_recist_only() -> None:
    # Baseline 20 mm; week 6: 24 mm = exactly 1.2 x 20, but only +4 mm. RECIST: not PD,
    # and 24 > 0.7 x 20 = 14 so SD. mRECIST has no 5 mm rule: 24 >= 24 and 24 > 20 -> PD.
    followups = [(week(6), sized(24))]
    assert evaluate("RECIST 1.1", sized(20), followups)[0].target is SD
    assert evaluate("mRECIST", sized(20), followups)[0].target is PD


def test_recist_pd_at_plus_20_percent_and_5_mm() -> None:
    # Baseline 25 mm; week 6: 30 mm = 1.2 x 25 and +5 mm -> PD (both limits inclusive).
    assert evaluate("RECIST 1.1", sized(25), [(week(6), sized(30))])[0].target is PD


def test_nodal_cr_with_a_non_zero_sum() -> None:
    # Baseline liver 30 + node 18 = 48. Week 6: liver gone, node 8 mm short axis (< 10 mm,
    # normal) -> CR with sum 8. Week 12 (alternative): node 10 mm is not normal, so not CR;
    # 10 <= 0.7 x 48 = 33.6 -> PR.
    baseline = read(target("T1", 30), node("T2", 18))
    cr = evaluate("RECIST 1.1", baseline, [(week(6), read(target("T1", 0), node("T2", 8)))])
    assert (cr[0].target, cr[0].sum_mm, cr[0].overall) == (CR, 8.0, CR)
    pr = evaluate("RECIST 1.1", baseline, [(week(6), read(target("T1", 0), node("T2", 10)))])
    assert pr[0].target is PR


def test_mrecist_cr_needs_every_viable_diameter_zero_even_for_nodes() -> None:
    # Same scans read by mRECIST: the node still has 8 mm viable tumour -> not CR;
    # 8 <= 0.7 x 48 -> PR.
    baseline = read(target("T1", 30), node("T2", 18))
    results = evaluate("mRECIST", baseline, [(week(6), read(target("T1", 0), node("T2", 8)))])
    assert results[0].target is PR


def test_too_small_counts_5_mm_and_is_not_cr() -> None:
    # Baseline 40 mm; week 6: present but too small to measure = 5 mm. Not 0, so not CR;
    # 5 <= 28 -> PR with sum 5.
    followup = read(target("T1", None, too_small=True))
    results = evaluate("RECIST 1.1", sized(40), [(week(6), followup)])
    assert (results[0].target, results[0].sum_mm) == (PR, 5.0)


def test_an_ne_read_never_sets_the_nadir() -> None:
    # Baseline 40 + 20 = 60. Week 6: T1 20, T2 not measured -> NE (the partial sum 20 is
    # not a nadir). Week 12: 30 + 15 = 45 against nadir 60: not PD, 45 > 42 -> SD.
    # Had the NE read set the nadir to 20, week 12 would have been PD.
    results = evaluate(
        "RECIST 1.1",
        sized(40, 20),
        [(week(6), sized(20, None)), (week(12), sized(30, 15))],
    )
    assert [r.target for r in results] == [NE, SD]
    assert [r.overall for r in results] == [NE, SD]
    assert results[0].sum_mm is None
    assert results[1].nadir_mm == 60.0


def test_a_target_left_out_of_the_read_is_not_assessed() -> None:
    # Baseline T1 40, T2 20; the week-6 read lists only T1 = 30 -> NE.
    results = evaluate("mRECIST", sized(40, 20), [(week(6), sized(30))])
    assert (results[0].target, results[0].sum_mm) == (NE, None)


def test_pd_with_targets_not_assessed_when_the_assessed_ones_suffice() -> None:
    # Baseline 40 + 20 = 60. Week 6: 20 + 10 = 30 (PR, nadir 30). Week 12: T1 45, T2 not
    # measured: 45 alone >= 1.2 x 30 = 36 and +15 mm -> PD, not NE.
    results = evaluate(
        "RECIST 1.1", sized(40, 20), [(week(6), sized(20, 10)), (week(12), sized(45, None))]
    )
    assert [r.target for r in results] == [PR, PD]


def test_exactly_minus_30_percent_is_pr() -> None:
    # Baseline 21.0 + 22.0 = 43.0; in floats 0.7 x 43.0 = 30.099999999999998 < 30.1.
    # Week 6: 20.1 + 10.0 = 30.1 = -30.0% exactly -> PR. Week 6 (alternative) 30.2 -> SD.
    baseline = sized(21.0, 22.0)
    assert evaluate("RECIST 1.1", baseline, [(week(6), sized(20.1, 10.0))])[0].target is PR
    assert evaluate("RECIST 1.1", baseline, [(week(6), sized(20.2, 10.0))])[0].target is SD


def test_mrecist_can_be_better_than_recist_on_the_same_scans() -> None:
    # One liver tumour: longest diameter 50 mm, of which 40 mm is viable (enhancing).
    # Week 6 after TACE: longest 45 (-10%, SD) but viable 20 (-50%, PR).
    # Week 12: longest 30 (-40%, PR), no viable tumour left (mRECIST CR).
    recist = evaluate("RECIST 1.1", sized(50), [(week(6), sized(45)), (week(12), sized(30))])
    mrecist = evaluate("mRECIST", sized(40), [(week(6), sized(20)), (week(12), sized(0))])
    assert [r.overall for r in recist] == [SD, PR]
    assert [r.overall for r in mrecist] == [PR, CR]


def test_mrecist_regrowth_after_cr_is_pd() -> None:
    # Baseline 40, week 6: 0 (CR, nadir 0). Week 12: 3 mm of viable tumour: 3 >= 1.2 x 0
    # and 3 > 0 -> PD (mRECIST has no 5 mm rule).
    results = evaluate("mRECIST", sized(40), [(week(6), sized(0)), (week(12), sized(3))])
    assert [r.target for r in results] == [CR, PD]


def test_pd_from_a_new_lesion_alone() -> None:
    # Baseline 40; week 6: 20 (-50%, PR) but an unequivocal 8 mm lung nodule, not typical
    # of HCC. RECIST: any unequivocal new lesion -> PD. mRECIST: atypical and < 10 mm, so
    # it does not count -> PR.
    followup = read(target("T1", 20), new_lesions=(new("N1", 8, typical_hcc=False, organ="lung"),))
    recist = evaluate("RECIST 1.1", sized(40), [(week(6), followup)])[0]
    mrecist = evaluate("mRECIST", sized(40), [(week(6), followup)])[0]
    assert (recist.target, recist.new_lesion, recist.overall) == (PR, True, PD)
    assert (mrecist.new_lesion, mrecist.overall) == (False, PR)


def test_a_new_lesion_confirmed_later_back_dates_pd() -> None:
    # Baseline 40. Week 6: 30 (-25%, SD) and an equivocal liver nodule N1. Week 12: 26
    # (-35%, PR) and N1 now unequivocal -> PD at week 12, and back-dated to week 6,
    # where N1 first appeared.
    results = evaluate(
        "RECIST 1.1",
        sized(40),
        [
            (week(6), read(target("T1", 30), new_lesions=(new("N1", 6, unequivocal=False),))),
            (week(12), read(target("T1", 26), new_lesions=(new("N1", 11),))),
        ],
    )
    assert [r.target for r in results] == [SD, PR]
    assert [r.overall for r in results] == [PD, PD]
    assert [r.backdated for r in results] == [True, False]


def test_mrecist_back_dates_a_new_lesion_that_grows_past_10_mm() -> None:
    # mRECIST: a typical, unequivocal 8 mm nodule at week 6 does not count yet (< 10 mm);
    # at week 12 it is 14 mm -> PD back-dated to week 6. A different lesion N2 that first
    # appears at week 12 does not touch week 6.
    results = evaluate(
        "mRECIST",
        sized(40),
        [
            (week(6), read(target("T1", 20), new_lesions=(new("N1", 8),))),
            (week(12), read(target("T1", 20), new_lesions=(new("N1", 14), new("N2", 12)))),
        ],
    )
    assert [(r.overall, r.backdated) for r in results] == [(PD, True), (PD, False)]


def test_a_new_lesion_that_never_qualifies_changes_nothing() -> None:
    # RECIST: N1 stays equivocal at weeks 6 and 12 -> no PD; targets 25 then 24 of 40 -> PR.
    results = evaluate(
        "RECIST 1.1",
        sized(40),
        [
            (week(6), read(target("T1", 25), new_lesions=(new("N1", 6, unequivocal=False),))),
            (week(12), read(target("T1", 24), new_lesions=(new("N1", 5, unequivocal=False),))),
        ],
    )
    assert [(r.overall, r.new_lesion, r.backdated) for r in results] == [(PR, False, False)] * 2


def test_non_target_statuses_and_the_overall_table() -> None:
    # Baseline 40 with non-targets NT1, NT2. Target CR at week 6 in every case:
    # all absent -> CR; one still present -> PR; one not assessed -> PR; progression -> PD;
    # no non-targets listed -> "none" -> CR.
    def at_week_6(*statuses: str) -> tuple[NonTargetResponse, Response]:
        lesions = tuple(non_target(f"NT{i}", s) for i, s in enumerate(statuses, start=1))
        followup = read(target("T1", 0), non_targets=lesions)
        result = evaluate("RECIST 1.1", sized(40), [(week(6), followup)])[0]
        return result.non_target, result.overall

    assert at_week_6("absent", "absent") == (NonTargetResponse.CR, CR)
    assert at_week_6("absent", "present") == (NonTargetResponse.NON_CR_NON_PD, PR)
    assert at_week_6("absent", "not_assessed") == (NonTargetResponse.NE, PR)
    assert at_week_6("not_assessed", "progression") == (NonTargetResponse.PD, PD)
    assert at_week_6() == (NonTargetResponse.NONE, CR)


def test_target_ne_stays_ne_unless_something_progressed() -> None:
    # Baseline 40 + 20; week 6: T2 not measured (NE), non-target present -> NE overall;
    # with a non-target progression instead -> PD.
    def overall(status: str) -> Response:
        followup = read(target("T1", 30), non_targets=(non_target("NT1", status),))
        return evaluate("RECIST 1.1", sized(40, 20), [(week(6), followup)])[0].overall

    assert overall("present") is NE
    assert overall("progression") is PD


def test_follow_ups_are_assessed_in_date_order() -> None:
    # Given out of order, week 6 (30 of 40 mm: -25%, SD) still comes first and sets the
    # nadir 30 for week 12 (36 mm = 1.2 x 30 and +6 mm -> PD).
    results = evaluate("RECIST 1.1", sized(40), [(week(12), sized(36)), (week(6), sized(30))])
    assert [(r.on, r.target) for r in results] == [(week(6), SD), (week(12), PD)]


def test_without_baseline_targets_only_new_lesions_or_non_targets_decide() -> None:
    # A participant with non-target disease only is not evaluable; targets are NE, but a
    # new lesion still makes PD.
    baseline = read(non_targets=(non_target("NT1", "present"),))
    results = evaluate(
        "RECIST 1.1",
        baseline,
        [
            (week(6), read(non_targets=(non_target("NT1", "present"),))),
            (week(12), read(new_lesions=(new("N1", 15),))),
        ],
    )
    assert [(r.target, r.overall, r.sum_mm) for r in results] == [(NE, NE, None), (NE, PD, None)]
