"""Corrections stored in their version 1 shape still fold exactly as they did: version 1 moved
the corrected entry to the correction's own date, and its upcast says so explicitly."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from domain.participant import Participant
from services.application import TrialLedger
from tests.integration.test_event_golden import _participant_event

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "events"
PID = "HCC-01-001"


def _stored(ledger: TrialLedger, event: Any) -> StoredEvent:
    stored: StoredEvent = ledger.mapper.to_stored_event(event)
    return stored


def _v1_correction(corrects: str, on: str, data: dict[str, Any]) -> StoredEvent:
    golden: dict[str, Any] = json.loads((GOLDEN / "EntryCorrected.v1.json").read_text())
    assert golden["class_version"] == 1 and "class_version" not in golden["state"]
    state = {**golden["state"], "event_id": str(uuid.uuid4()), "occurred_on": on,
             "data": {"corrects": corrects, "data": data}}
    return StoredEvent(originator_id=PID, originator_version=3, topic=golden["topic"],
                       state=json.dumps(state, separators=(",", ":"), sort_keys=True).encode())


def test_a_version_1_correction_still_moves_the_entry_to_its_own_date(ledger: TrialLedger
                                                                      ) -> None:
    enrolled = _participant_event("ParticipantEnrolled")
    dose = _participant_event("DoseAdministered")
    dose = type(dose)(**{**dose.__dict__, "originator_version": 2,
                         "event_id": str(uuid.uuid4())})
    ledger.recorder.insert_events([
        _stored(ledger, enrolled), _stored(ledger, dose),
        _v1_correction(dose.event_id, "2026-01-20", {**dose.data, "dose_mg": 125}),
    ])
    participant = ledger.participant(PID)
    corrected = participant.entries[dose.event_id]
    assert corrected.occurred_on == date(2026, 1, 20)  # as version 1 folded it
    assert corrected.data["dose_mg"] == 125
    (_, _, correction) = ledger.repository.event_store.get(PID)
    assert isinstance(correction, Participant.EntryCorrected)
    assert correction.data["occurred_on"] == "2026-01-20"  # upcast: the move made explicit
