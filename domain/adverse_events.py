"""A participant's adverse events as the safety tables count them, at a clinical cutoff.

Pure derivation from effective entries (docs/rules.md "Safety"): the worst grade reported or
updated by the cutoff, serious if ever serious, the latest attribution, and whether a dose change
discontinued a drug naming the AE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from domain.analysis.safety import AdverseEventRecord
from domain.entries import ParticipantHistory, RecordedEntry
from domain.events import AdverseEventReportedData, AdverseEventUpdatedData, DoseModifiedData
from domain.participant_outcome import NO_CUTOFF


def adverse_event_records(
    participant: ParticipantHistory, cutoff: date = NO_CUTOFF
) -> list[AdverseEventRecord]:
    """Each AE of the participant as of the cutoff (`records_of`)."""
    return records_of(participant.id, participant.effective_entries(), cutoff)


def records_of(participant_id: str, effective: Iterable[RecordedEntry],
               cutoff: date = NO_CUTOFF) -> list[AdverseEventRecord]:
    """Each AE as of the cutoff: worst grade reported or updated, serious if ever serious,
    the latest attribution, and whether a drug was discontinued naming it."""
    entries = sorted((e for e in effective if e.occurred_on <= cutoff),
                     key=lambda e: (e.occurred_on, e.version))
    discontinued = {
        payload.adverse_event_id
        for e in entries
        if isinstance(payload := e.payload, DoseModifiedData) and payload.action == "discontinued"
    }
    seen: dict[str, AdverseEventRecord] = {}
    for entry in entries:
        payload = entry.payload
        if isinstance(payload, AdverseEventReportedData):
            seen[payload.ae_id] = AdverseEventRecord(
                participant_id=participant_id,
                term=payload.term,
                onset_on=entry.occurred_on,
                worst_grade=payload.grade,
                serious=payload.serious,
                related_to=frozenset(payload.related_to),
            )
        elif isinstance(payload, AdverseEventUpdatedData) and payload.ae_id in seen:
            ae = seen[payload.ae_id]
            seen[payload.ae_id] = replace(
                ae,
                worst_grade=max(ae.worst_grade, payload.grade or 0),
                serious=ae.serious or bool(payload.serious),
                related_to=(ae.related_to if payload.related_to is None
                            else frozenset(payload.related_to)),
            )
    return [replace(ae, led_to_discontinuation=ae_id in discontinued)
            for ae_id, ae in seen.items()]
