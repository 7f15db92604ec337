"""Study-wide reports at a clinical cutoff, from every participant's effective entries.

The endpoint estimates (ORR, DCR, DOR, PFS, OS) over the participants enrolled by the cutoff,
and the treatment-emergent adverse event tables over those treated by it (docs/rules.md). The
endpoints report is the analysis's own (`domain.analysis.endpoints`); the safety report is a
value, which the API gives its JSON shape (`services/api/analysis_view.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from domain.adverse_events import adverse_event_records
from domain.analysis.endpoints import endpoints_report
from domain.analysis.safety import SafetyReport, safety_report
from domain.entries import ParticipantHistory
from domain.participant_outcome import participant_outcome, started_by
from domain.protocol import CRITERIA, Criterion


def study_endpoints(
    participants: Iterable[ParticipantHistory], criterion: Criterion, cutoff: date, as_of: datetime
) -> dict[str, Any]:
    """The docs/api.md endpoints body; participants enrolled after the cutoff are not yet in it."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; use one of {', '.join(CRITERIA)}")
    summaries = [
        participant_outcome(p, cutoff).summary(criterion)
        for p in participants
        if p.enrollment.occurred_on <= cutoff
    ]
    return endpoints_report(summaries, criteria=criterion, cutoff=cutoff, as_of=as_of)


def study_safety_report(participants: Iterable[ParticipantHistory], cutoff: date) -> SafetyReport:
    """Treatment-emergent AE tables over the participants treated by the cutoff."""
    chosen = list(participants)
    starts = {p.id: start for p in chosen if (start := started_by(p, cutoff)) is not None}
    records = [record for p in chosen for record in adverse_event_records(p, cutoff)]
    return safety_report(records, starts, cutoff=cutoff)
