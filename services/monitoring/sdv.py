"""Withdrawing source-data verification marks when the verified entry changes.

A mark binds to the entry as it was verified (domain/sdv.py). When a correction or a void of
that entry is recorded later, the ledger records `VerificationWithdrawn` by the system, naming
the correction or void, in the participant's `sdv:` stream. Two ways in, one rule:

- `withdraw_on_correction(ledger, seen)`: the reaction to one new ledger event, one of
  `REACTIONS` (services/monitoring/policies.py) that the runner following the log calls;
- `withdraw_for_corrections(ledger)`: a scan of every participant with marks, recording every
  missing withdrawal (a catch-up after downtime, or where no runner follows the log).

Both are idempotent: a withdrawal already recorded, or a mark made after the change, is left
alone, so running either again, or both, records nothing twice. Reads never wait for either:
services/sdv.py shows a changed entry's mark as `withdrawn_pending` until it is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.participant import Participant
from domain.sdv import SDV_STREAM_PREFIX, SourceVerification, sdv_stream_id, stale_because
from services.application import TrialLedger
from services.sdv import SDV_TOPIC_PREFIX, verification

if TYPE_CHECKING:
    from services.monitoring.seen import SeenEvent

CHANGES = (Participant.EntryCorrected, Participant.EntryVoided)


def _stale_marks(ledger: TrialLedger, record: SourceVerification, participant_id: str
                 ) -> bool:
    participant = ledger.participant(participant_id)
    return any(marks[-1].standing and stale_because(marks[-1], participant) is not None
               for marks in record.marks.values())


def withdraw_stale(ledger: TrialLedger, participant_id: str) -> list[str]:
    """Record the withdrawal of every standing mark of the participant whose entry was
    corrected or voided after it; the entries' event ids (empty: nothing to withdraw)."""
    record = verification(ledger, participant_id)
    if record is None or not _stale_marks(ledger, record, participant_id):
        return []
    withdrawn: list[str] = []

    def decide(current: SourceVerification | None) -> SourceVerification:
        assert current is not None  # a stream with marks is never removed
        withdrawn[:] = current.withdraw_stale(ledger.participant(participant_id))
        return current

    ledger.update_stream(sdv_stream_id(participant_id), decide)
    return withdrawn


def withdraw_on_correction(ledger: TrialLedger, seen: SeenEvent) -> None:
    """The reaction to one new event (in `REACTIONS`): a correction or void of a
    participant's entry withdraws the marks it makes stale. A new mark is checked too: one
    decided on the entry just before a correction was committed lands after the correction
    in the log, and is withdrawn when the runner reaches it."""
    event = seen.event
    if isinstance(event, CHANGES):
        withdraw_stale(ledger, seen.stream_id)
    elif isinstance(event, SourceVerification.EventsVerified):
        withdraw_stale(ledger, seen.stream_id.removeprefix(SDV_STREAM_PREFIX))


def withdraw_for_corrections(ledger: TrialLedger) -> dict[str, list[str]]:
    """Record every missing withdrawal, participant by participant; what was withdrawn, by
    participant id (only those with a withdrawal)."""
    found = {}
    for stream_id, _ in ledger.store.streams(SDV_TOPIC_PREFIX):
        participant_id = stream_id.removeprefix(SDV_STREAM_PREFIX)
        withdrawn = withdraw_stale(ledger, participant_id)
        if withdrawn:
            found[participant_id] = withdrawn
    return found
