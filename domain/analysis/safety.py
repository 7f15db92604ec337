"""Treatment-emergent adverse event tables (docs/rules.md "Safety"; CTCAE v5 grades 1-5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from domain.protocol import APATINIB, CAMRELIZUMAB, SAFETY_SEVERE_GRADE, TACE

FATAL_GRADE = 5
"""CTCAE v5: grade 5 is death related to the adverse event."""
GRADES: tuple[int, ...] = (1, 2, 3, 4, 5)
PERCENT_DECIMALS = 1


@dataclass(frozen=True, slots=True)
class AdverseEventRecord:
    """One AE as of the cutoff: worst grade reached, seriousness, attribution, discontinuation."""

    participant_id: str
    term: str
    onset_on: date
    worst_grade: int
    serious: bool
    related_to: frozenset[str] = frozenset()
    led_to_discontinuation: bool = False


@dataclass(frozen=True, slots=True)
class TermRow:
    """Participants with the term, each counted once at their worst qualifying grade."""

    term: str
    participants: int
    percent: float | None
    by_worst_grade: dict[str, int]


@dataclass(frozen=True, slots=True)
class SafetyTable:
    """One table: participants with any qualifying AE, then one row per term."""

    name: str
    title: str
    participants: int
    percent: float | None
    terms: tuple[TermRow, ...]


@dataclass(frozen=True, slots=True)
class SafetyReport:
    """All tables over the treated population; percentages are of `treated`."""

    treated: int
    tables: tuple[SafetyTable, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tables keyed by name, rows as lists."""
        return {
            "treated": self.treated,
            "tables": {
                table.name: {**asdict(table), "terms": [asdict(row) for row in table.terms]}
                for table in self.tables
            },
        }


Qualifies = Callable[[AdverseEventRecord], bool]

SAFETY_TABLES: tuple[tuple[str, str, Qualifies], ...] = (
    ("any_grade", "TEAEs of any grade", lambda ae: True),
    ("grade_3_or_higher", "Grade >= 3 TEAEs", lambda ae: ae.worst_grade >= SAFETY_SEVERE_GRADE),
    ("serious", "Serious TEAEs", lambda ae: ae.serious),
    (
        "related_to_camrelizumab",
        "TEAEs related to camrelizumab",
        lambda ae: CAMRELIZUMAB in ae.related_to,
    ),
    ("related_to_apatinib", "TEAEs related to apatinib", lambda ae: APATINIB in ae.related_to),
    ("related_to_tace", "TEAEs related to TACE", lambda ae: TACE in ae.related_to),
    (
        "leading_to_discontinuation",
        "TEAEs leading to discontinuation",
        lambda ae: ae.led_to_discontinuation,
    ),
    ("grade_5", "Grade 5 (fatal) TEAEs", lambda ae: ae.worst_grade == FATAL_GRADE),
)


def safety_report(
    adverse_events: Iterable[AdverseEventRecord],
    treatment_start_on: Mapping[str, date],
    *,
    cutoff: date | None = None,
) -> SafetyReport:
    """docs/rules.md "Safety": tables of treatment-emergent AEs (onset on/after treatment start)."""
    treated = {
        pid: start for pid, start in treatment_start_on.items() if cutoff is None or start <= cutoff
    }
    emergent = [ae for ae in adverse_events if _is_treatment_emergent(ae, treated, cutoff)]
    return SafetyReport(
        treated=len(treated),
        tables=tuple(
            _table(name, title, [ae for ae in emergent if qualifies(ae)], len(treated))
            for name, title, qualifies in SAFETY_TABLES
        ),
    )


def _is_treatment_emergent(
    ae: AdverseEventRecord, treated: Mapping[str, date], cutoff: date | None
) -> bool:
    """Onset on or after the participant's treatment start and, given a cutoff, on or before it."""
    if ae.worst_grade not in GRADES:
        raise ValueError(f"CTCAE grade must be 1-5, got {ae.worst_grade} for {ae.term!r}")
    start = treated.get(ae.participant_id)
    return start is not None and ae.onset_on >= start and (cutoff is None or ae.onset_on <= cutoff)


def _table(
    name: str, title: str, qualifying: list[AdverseEventRecord], treated: int
) -> SafetyTable:
    """Per term, each participant once at the worst grade among their qualifying AEs."""
    worst: dict[str, dict[str, int]] = {}
    for ae in qualifying:
        by_participant = worst.setdefault(ae.term, {})
        by_participant[ae.participant_id] = max(
            ae.worst_grade, by_participant.get(ae.participant_id, 0)
        )
    rows = [_row(term, grades, treated) for term, grades in worst.items()]
    rows.sort(key=lambda row: (-row.participants, row.term))
    participants = len({ae.participant_id for ae in qualifying})
    return SafetyTable(name, title, participants, _percent(participants, treated), tuple(rows))


def _row(term: str, worst_by_participant: dict[str, int], treated: int) -> TermRow:
    """One term's row: participant count, percent of treated, and the worst-grade distribution."""
    grades = list(worst_by_participant.values())
    return TermRow(
        term=term,
        participants=len(grades),
        percent=_percent(len(grades), treated),
        by_worst_grade={str(grade): grades.count(grade) for grade in GRADES},
    )


def _percent(count: int, treated: int) -> float | None:
    """Percent of the treated population to 1 decimal; None with nobody treated."""
    return None if treated == 0 else round(100 * count / treated, PERCENT_DECIMALS)
