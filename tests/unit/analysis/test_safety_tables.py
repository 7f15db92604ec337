"""Treatment-emergent AE tables: worst grade per participant and term, percent of treated."""

from __future__ import annotations

import json
from datetime import date

import pytest

from domain.analysis.safety import AdverseEventRecord, SafetyReport, safety_report
from domain.protocol import APATINIB, CAMRELIZUMAB, RCCEP_TERM, TACE

STARTS = {
    "HCC-01-001": date(2025, 1, 10),
    "HCC-01-002": date(2025, 1, 20),
    "HCC-01-003": date(2025, 2, 1),
    "HCC-01-004": date(2025, 2, 5),
}
HYPERTENSION = "Hypertension"
FEVER = "Fever"
AST = "Aspartate aminotransferase increased"


def ae(
    pid: str,
    term: str,
    onset: date,
    grade: int,
    *,
    serious: bool = False,
    related: frozenset[str] = frozenset(),
    discontinued: bool = False,
) -> AdverseEventRecord:
    return AdverseEventRecord(pid, term, onset, grade, serious, related, discontinued)


EVENTS = [
    ae("HCC-01-001", HYPERTENSION, date(2025, 2, 1), 2, related=frozenset({APATINIB})),
    ae("HCC-01-001", HYPERTENSION, date(2025, 4, 1), 3, related=frozenset({APATINIB})),
    ae("HCC-01-002", HYPERTENSION, date(2025, 3, 1), 1, related=frozenset({APATINIB})),
    ae("HCC-01-001", FEVER, date(2025, 1, 11), 1, related=frozenset({TACE})),
    ae("HCC-01-003", FEVER, date(2025, 2, 2), 2, related=frozenset({TACE})),
    ae("HCC-01-002", RCCEP_TERM, date(2025, 3, 15), 1, related=frozenset({CAMRELIZUMAB})),
    ae(
        "HCC-01-004",
        AST,
        date(2025, 3, 1),
        4,
        serious=True,
        related=frozenset({CAMRELIZUMAB, APATINIB}),
        discontinued=True,
    ),
    ae("HCC-01-003", AST, date(2025, 6, 1), 5, serious=True, related=frozenset({CAMRELIZUMAB})),
    ae("HCC-01-003", HYPERTENSION, date(2025, 1, 15), 3),  # before treatment start
    ae("HCC-01-099", HYPERTENSION, date(2025, 3, 1), 3),  # never treated
]


def table(report: SafetyReport, name: str) -> dict[str, object]:
    return report.to_dict()["tables"][name]  # type: ignore[no-any-return]


def rows(report: SafetyReport, name: str) -> dict[str, tuple[int, float | None, dict[str, int]]]:
    return {
        row["term"]: (row["participants"], row["percent"], row["by_worst_grade"])
        for row in table(report, name)["terms"]  # type: ignore[attr-defined]
    }


def grades(g1: int = 0, g2: int = 0, g3: int = 0, g4: int = 0, g5: int = 0) -> dict[str, int]:
    return {"1": g1, "2": g2, "3": g3, "4": g4, "5": g5}


def test_any_grade_counts_each_participant_once_at_worst_grade() -> None:
    report = safety_report(EVENTS, STARTS)
    assert report.treated == 4
    assert table(report, "any_grade")["participants"] == 4
    assert rows(report, "any_grade") == {
        HYPERTENSION: (2, 50.0, grades(g1=1, g3=1)),
        FEVER: (2, 50.0, grades(g1=1, g2=1)),
        AST: (2, 50.0, grades(g4=1, g5=1)),
        RCCEP_TERM: (1, 25.0, grades(g1=1)),
    }


def test_terms_are_ordered_by_frequency_then_name() -> None:
    terms = [row.term for row in safety_report(EVENTS, STARTS).tables[0].terms]
    assert terms == [AST, FEVER, HYPERTENSION, RCCEP_TERM]


def test_grade_3_or_higher_serious_and_grade_5() -> None:
    report = safety_report(EVENTS, STARTS)
    assert rows(report, "grade_3_or_higher") == {
        HYPERTENSION: (1, 25.0, grades(g3=1)),
        AST: (2, 50.0, grades(g4=1, g5=1)),
    }
    assert rows(report, "serious") == {AST: (2, 50.0, grades(g4=1, g5=1))}
    assert rows(report, "grade_5") == {AST: (1, 25.0, grades(g5=1))}
    assert table(report, "grade_5")["percent"] == 25.0


def test_related_tables_per_agent() -> None:
    report = safety_report(EVENTS, STARTS)
    assert rows(report, "related_to_camrelizumab") == {
        AST: (2, 50.0, grades(g4=1, g5=1)),
        RCCEP_TERM: (1, 25.0, grades(g1=1)),
    }
    assert rows(report, "related_to_apatinib") == {
        HYPERTENSION: (2, 50.0, grades(g1=1, g3=1)),
        AST: (1, 25.0, grades(g4=1)),
    }
    assert rows(report, "related_to_tace") == {FEVER: (2, 50.0, grades(g1=1, g2=1))}


def test_leading_to_discontinuation() -> None:
    report = safety_report(EVENTS, STARTS)
    assert rows(report, "leading_to_discontinuation") == {AST: (1, 25.0, grades(g4=1))}


def test_cutoff_excludes_later_onsets_and_later_starts() -> None:
    report = safety_report(EVENTS, STARTS, cutoff=date(2025, 2, 1))
    assert report.treated == 3
    assert rows(report, "any_grade") == {
        FEVER: (1, 33.3, grades(g1=1)),
        HYPERTENSION: (1, 33.3, grades(g2=1)),  # onset on the cutoff date counts
    }


def test_report_is_json_serialisable_with_all_tables() -> None:
    payload = safety_report(EVENTS, STARTS).to_dict()
    assert list(payload["tables"]) == [
        "any_grade",
        "grade_3_or_higher",
        "serious",
        "related_to_camrelizumab",
        "related_to_apatinib",
        "related_to_tace",
        "leading_to_discontinuation",
        "grade_5",
    ]
    assert json.loads(json.dumps(payload)) == payload


def test_no_treated_participants_gives_empty_tables_without_percentages() -> None:
    report = safety_report(EVENTS, {})
    assert report.treated == 0
    assert all(t.participants == 0 and t.percent is None and t.terms == () for t in report.tables)


def test_grade_outside_ctcae_is_refused() -> None:
    with pytest.raises(ValueError, match="CTCAE grade must be 1-5"):
        safety_report([ae("HCC-01-001", FEVER, date(2025, 2, 1), 6)], STARTS)
