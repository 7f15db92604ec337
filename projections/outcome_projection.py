"""The projector's part for `participant_outcomes`: a participant's outcome facts after each of
their events, carried from the event before (domain.outcome_facts.next_facts) rather than
derived from every entry again; a row per event, which also gives the participant's version
and status at any recorded time.

Per participant the projector keeps (version, facts, settled summaries, stored documents)
after its last event. Each document is encoded again only when the part of the facts it holds
is a different object from the one before (an AE changes only `adverse_events`, a dose after
the start only `vital`), so an event costs little more than the few dates it moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.analysis.endpoints import ParticipantSummary
from domain.outcome_facts import OutcomeFacts, next_facts, outcome_facts, settled_summaries
from domain.participant import Participant
from domain.protocol import Criterion
from domain.text import storable
from projections.outcome_documents import (
    adverse_events_document,
    criteria_document,
    settled_document,
    vital_document,
)

OUTCOME_VALUES = ("site_id", "enrolled_on", "settled_from", "settled", "vital", "criteria",
                  "adverse_events", "version", "status")
"""A row's columns after (generation, participant_id, from_position, to_position)."""


@dataclass(frozen=True)
class Carried:
    """A participant's outcome state after its last projected event."""

    version: int
    facts: OutcomeFacts
    settled: dict[Criterion, ParticipantSummary]
    values: tuple[Any, ...]
    """The row's OUTCOME_VALUES."""


def carry(before: Carried | None, participant: Participant, event_type: str, event_id: str
          ) -> Carried:
    """The state after the participant's latest event (`participant` is the aggregate after
    it); its `values` are the row that holds from that event on."""
    if before is not None and before.version == participant.version - 1:
        old = before.facts
        facts = next_facts(old, participant, event_type, event_id)
        if facts is old:
            return Carried(participant.version, facts, before.settled,
                           (*before.values[:-2], participant.version, facts.status))
        settled = settled_summaries(facts, old, before.settled)
        values = (
            storable(facts.site_id),
            facts.enrolled_on.isoformat(),
            facts.settled_from.isoformat(),
            before.values[3] if settled == before.settled else settled_document(settled),
            vital_document(facts) if _vital(facts) != _vital(old) else before.values[4],
            before.values[5] if facts.criteria is old.criteria
            else criteria_document(facts.criteria),
            before.values[6] if facts.adverse_events is old.adverse_events
            else adverse_events_document(facts.adverse_events),
            participant.version,
            facts.status,
        )
        return Carried(participant.version, facts, settled, values)
    facts = outcome_facts(participant)
    settled = settled_summaries(facts)
    values = (storable(facts.site_id), facts.enrolled_on.isoformat(),
              facts.settled_from.isoformat(), settled_document(settled), vital_document(facts),
              criteria_document(facts.criteria), adverse_events_document(facts.adverse_events),
              participant.version, facts.status)
    return Carried(participant.version, facts, settled, values)


def _vital(facts: OutcomeFacts) -> tuple[Any, ...]:
    return (facts.treatment_start_on, facts.died_on, facts.last_known_alive_on,
            facts.therapy_dates, facts.withdrawn, facts.discontinued, facts.withdrew_on,
            facts.discontinued_on)
