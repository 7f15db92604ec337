"""Properties of the response rules that hold for any measurements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.protocol import CRITERIA, Criterion
from domain.response import Read, Response, best_overall_response, evaluate
from tests.unit.response.response_builders import TREATMENT_START, history, sized

RANK = {Response.CR: 0, Response.PR: 1, Response.SD: 2, Response.PD: 3, Response.NE: 4}

target_counts = st.integers(min_value=1, max_value=5)
criteria = st.sampled_from(CRITERIA)


@st.composite
def measurements(draw: st.DrawFn) -> tuple[list[int], list[list[int | None]]]:
    """Integer baseline diameters (>= 10 mm) and follow-ups, some targets not assessed."""
    n = draw(target_counts)
    baseline = draw(st.lists(st.integers(10, 100), min_size=n, max_size=n))
    follow_up = st.lists(st.one_of(st.none(), st.integers(0, 150)), min_size=n, max_size=n)
    followups = draw(st.lists(follow_up, min_size=1, max_size=6))
    return baseline, followups


def scans(followups: Sequence[Sequence[float | None]], scale: float = 1) -> list[tuple[date, Read]]:
    """Follow-ups every 6 weeks after treatment start, every diameter times `scale`."""
    return [
        (
            TREATMENT_START + timedelta(weeks=6 * (i + 1)),
            sized(*(None if mm is None else mm * scale for mm in diameters)),
        )
        for i, diameters in enumerate(followups)
    ]


@settings(deadline=None)
@given(measurements(), st.sampled_from([0.5, 1.5, 2, 3]))  # keeps every read under 500 mm
def test_scaling_every_diameter_never_changes_mrecist_responses(
    case: tuple[list[int], list[list[int | None]]], factor: float
) -> None:
    # mRECIST has no absolute (5 mm) threshold for targets, so every rule is scale-free.
    baseline, followups = case
    original = evaluate("mRECIST", sized(*baseline), scans(followups))
    scaled_baseline = sized(*(mm * factor for mm in baseline))
    scaled = evaluate("mRECIST", scaled_baseline, scans(followups, factor))
    assert [r.target for r in scaled] == [r.target for r in original]
    assert [r.overall for r in scaled] == [r.overall for r in original]


@settings(deadline=None)
@given(measurements(), criteria, st.integers(0, 6))
def test_an_added_ne_follow_up_never_changes_the_nadir_or_other_reads(
    case: tuple[list[int], list[list[int | None]]], criterion: Criterion, slot: int
) -> None:
    baseline, followups = case
    dated = scans(followups)
    ne_on = TREATMENT_START + timedelta(weeks=6 * min(slot, len(dated)) + 3)
    not_assessed = sized(*([None] * len(baseline)))
    without = evaluate(criterion, sized(*baseline), dated)
    with_ne = evaluate(criterion, sized(*baseline), [*dated, (ne_on, not_assessed)])
    added = next(r for r in with_ne if r.on == ne_on)
    assert added.target is Response.NE
    others = [r for r in with_ne if r.on != ne_on]
    assert others == without


@settings(deadline=None)
@given(measurements())
def test_recist_target_pd_is_also_mrecist_target_pd_on_the_same_numbers(
    case: tuple[list[int], list[list[int | None]]],
) -> None:
    # >= 1.2 x nadir and +5 mm implies >= 1.2 x nadir and above the nadir.
    baseline, followups = case
    recist = evaluate("RECIST 1.1", sized(*baseline), scans(followups))
    mrecist = evaluate("mRECIST", sized(*baseline), scans(followups))
    for r, m in zip(recist, mrecist, strict=True):
        assert r.nadir_mm == m.nadir_mm
        if r.target is Response.PD:
            assert m.target is Response.PD


@given(st.integers(100, 1000), st.data())
def test_pr_is_decided_exactly_in_tenths_of_a_millimetre(
    baseline_tenths: int, data: st.DataObject
) -> None:
    # With one target, a follow-up at or below baseline is CR (0), PR (10 x sum <= 7 x
    # baseline, exactly) or SD; never PD.
    followup_tenths = data.draw(st.integers(0, baseline_tenths))
    result = evaluate(
        "RECIST 1.1",
        sized(baseline_tenths / 10),
        [(TREATMENT_START + timedelta(weeks=6), sized(followup_tenths / 10))],
    )[0]
    if followup_tenths == 0:
        expected = Response.CR
    elif 10 * followup_tenths <= 7 * baseline_tenths:
        expected = Response.PR
    else:
        expected = Response.SD
    assert result.target is expected


responses = st.sampled_from(["CR", "PR", "SD", "PD", "NE"])


@given(st.lists(st.tuples(st.integers(1, 400), responses), max_size=8, unique_by=lambda v: v[0]))
def test_confirmed_bor_is_never_better_than_unconfirmed(visits: list[tuple[int, str]]) -> None:
    result = best_overall_response(history(*sorted(visits)), TREATMENT_START)
    assert RANK[result.confirmed] >= RANK[result.unconfirmed]
    responded = result.confirmed in (Response.CR, Response.PR)
    assert (result.response_start_on is not None) == responded
