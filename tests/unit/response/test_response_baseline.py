"""Baseline and follow-up checks: each problem names the lesion and the criterion."""

from __future__ import annotations

from domain.response import baseline_problems, followup_problems, has_measurable_disease
from tests.unit.response.response_builders import new, node, read, sized, target


def test_a_good_baseline_has_no_problems_under_either_criterion() -> None:
    # Two liver targets (42, 25 mm), one lung (18 mm), one node (short axis 16 mm).
    baseline = read(target("T1", 42), target("T2", 25), target("T3", 18, "lung"), node("T4", 16))
    assert baseline_problems("RECIST 1.1", baseline) == []
    assert baseline_problems("mRECIST", baseline) == []


def test_mrecist_viable_diameter_under_10_mm_is_named() -> None:
    baseline = read(target("T1", 30), target("T3", 8.0))
    assert baseline_problems("mRECIST", baseline) == [
        ("mRECIST baseline target T3 (liver) has a viable diameter of 8.0 mm; "
        "a target needs at least 10 mm")
    ]


def test_recist_sizes_non_nodal_10_mm_and_nodal_15_mm() -> None:
    # 9.95 mm is under 10 even though it would print as 10.0 with one decimal.
    baseline = read(
        target("T1", 9.95), target("T2", 10.0, "lung"), node("T3", 14.9), node("T4", 15)
    )
    assert baseline_problems("RECIST 1.1", baseline) == [
        ("RECIST 1.1 baseline target T1 (liver) has a longest diameter of 9.95 mm; "
        "a target needs at least 10 mm"),
        ("RECIST 1.1 baseline target T3 (lymph node) has a short axis of 14.9 mm; "
        "a nodal target needs at least 15 mm"),
    ]


def test_two_targets_per_organ_and_all_nodes_are_one_organ() -> None:
    # Three liver targets and three nodes in three nodal stations: both groups too big,
    # and six targets in all is more than five.
    baseline = read(
        target("T1", 40),
        target("T2", 30, "Liver"),
        target("T3", 20),
        node("T4", 20, "porta hepatis node"),
        node("T5", 18, "para-aortic node"),
        node("T6", 16, "mediastinal node"),
    )
    assert baseline_problems("RECIST 1.1", baseline) == [
        "RECIST 1.1 baseline has 6 target lesions; at most 5 are allowed",
        ("RECIST 1.1 baseline has 3 target lesions in liver (T1, T2, T3); "
        "at most 2 per organ are allowed"),
        ("RECIST 1.1 baseline has 3 target lesions in lymph nodes (T4, T5, T6); "
        "at most 2 per organ are allowed (all lymph nodes count as one organ)"),
    ]


def test_two_targets_in_one_organ_are_fine() -> None:
    assert baseline_problems("mRECIST", sized(40, 30)) == []


def test_a_baseline_target_must_be_measured() -> None:
    baseline = read(target("T1", None), target("T2", None, "lung", too_small=True))
    assert baseline_problems("RECIST 1.1", baseline) == [
        ("RECIST 1.1 baseline target T1 (liver) has no diameter; every baseline target must be "
        "measured"),
        ("RECIST 1.1 baseline target T2 (lung) is marked too small to measure; a baseline "
        "target must be measurable"),
    ]


def test_a_baseline_has_no_new_lesions() -> None:
    baseline = read(target("T1", 40), new_lesions=(new("N1", 12),))
    assert baseline_problems("RECIST 1.1", baseline) == [
        "RECIST 1.1 baseline lists new lesions (N1); a baseline has none"
    ]


def test_no_targets_is_recordable_but_not_evaluable() -> None:
    assert baseline_problems("RECIST 1.1", read()) == []
    assert not has_measurable_disease(read())
    assert has_measurable_disease(sized(12))


def test_an_unknown_follow_up_target_id_is_named() -> None:
    # Baseline T1, T2; the follow-up measures T1 and a "T3" the baseline never had.
    followup = read(target("T1", 30), target("T3", 12, "lung"))
    assert followup_problems("RECIST 1.1", sized(40, 20), followup) == [
        "RECIST 1.1 follow-up target T3 (lung) is not a baseline target (baseline targets: T1, T2)"
    ]


def test_a_follow_up_may_leave_targets_out() -> None:
    assert followup_problems("mRECIST", sized(40, 20), sized(30)) == []
