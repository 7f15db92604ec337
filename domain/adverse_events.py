"""A participant's adverse events as the safety tables count them, at a clinical cutoff.

Pure derivation from effective entries (docs/rules.md "Safety"): the worst grade reported or
updated by the cutoff, serious if ever serious, the latest attribution, and whether a dose change
discontinued a drug naming the AE.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.analysis.safety import AdverseEventRecord
from domain.entries import ParticipantHistory
from domain.participant_outcome import NO_CUTOFF


def adverse_event_records(
    participant: ParticipantHistory, cutoff: date = NO_CUTOFF
) -> list[AdverseEventRecord]:
    """Each AE as of the cutoff: worst grade reported or updated, serious if ever serious,
    the latest attribution, and whether a drug was discontinued naming it."""
    entries = sorted(
        (e for e in participant.effective_entries() if e.occurred_on <= cutoff),
        key=lambda e: (e.occurred_on, e.version),
    )
    discontinued = {
        e.data.get("adverse_event_id")
        for e in entries
        if e.type == "DoseModified" and e.data["action"] == "discontinued"
    }
    seen: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.type == "AdverseEventReported":
            seen[entry.data["ae_id"]] = {
                "term": entry.data["term"],
                "onset_on": entry.occurred_on,
                "worst_grade": entry.data["grade"],
                "serious": entry.data["serious"],
                "related_to": frozenset(entry.data.get("related_to") or ()),
            }
        elif entry.type == "AdverseEventUpdated" and entry.data["ae_id"] in seen:
            ae = seen[entry.data["ae_id"]]
            if entry.data.get("grade") is not None:
                ae["worst_grade"] = max(ae["worst_grade"], entry.data["grade"])
            ae["serious"] = ae["serious"] or bool(entry.data.get("serious"))
            if entry.data.get("related_to") is not None:
                ae["related_to"] = frozenset(entry.data["related_to"])
    return [
        AdverseEventRecord(
            participant_id=participant.id, led_to_discontinuation=ae_id in discontinued, **fields
        )
        for ae_id, fields in seen.items()
    ]
