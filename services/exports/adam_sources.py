"""Where an ADaM value comes from: the ledger events behind each derived variable.

A `Subject` is one participant as the export sees them: their history as recorded by the
export's moment, every event of it placed in the ledger (position, stream version, recorded
time, from the chain rows), the endpoint summaries the `/api/v1/endpoints` read gives at the
cutoff, and the participant's responses at the cutoff (`participant_outcome`, the derivation
the summaries are a fold of). A `Derived` row holds its values and, for each traced variable,
the `Source` events: an entry, and every correction of that entry (a corrected entry is traced
together with the corrections that made it what it is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from domain.analysis.endpoints import ParticipantSummary
from domain.entries import Entry
from domain.participant import Participant
from domain.participant_outcome import ParticipantOutcome, participant_outcome
from domain.protocol import CRITERIA, Criterion
from services.application import TrialLedger
from services.study_outcomes import ParticipantOutcomes

Value = str | int | float | date | None
"""A value of an ADaM variable (None: missing)."""
CORRECTION_OF = "correction of "
"""The role of a correction is that of the entry it corrected, after this prefix."""


class ExportInconsistency(RuntimeError):
    """The ledger and the outcome read model disagree, or a derived value has no source event:
    the export stops rather than write a dataset it cannot stand behind."""


@dataclass(frozen=True, slots=True)
class Placed:
    """Where one event sits in the ledger."""

    position: int
    version: int
    recorded_at: str
    type: str


@dataclass(frozen=True, slots=True)
class Source:
    """One event a derived value comes from, and why (`role`)."""

    role: str
    event_id: str
    type: str
    position: int
    version: int
    recorded_at: str
    on: date
    """The entry's clinical date as the export sees it (corrections applied); for a
    correction, the date the correction was made."""


@dataclass
class Derived:
    """One row of an ADaM dataset: its values, and the sources of each traced variable."""

    values: dict[str, Value]
    traces: list[tuple[str, Source]] = field(default_factory=list)

    def trace(self, variable: str, sources: Iterable[Source]) -> None:
        """Record `sources` as what `variable` of this row was derived from; a value that
        names no source is an error (the point of the trace is that none is missing)."""
        found = list(sources)
        if not found:
            raise ExportInconsistency(f"{variable} of {self.values.get('USUBJID')} "
                                      f"{self.values.get('PARAMCD') or ''}: no source event")
        self.traces.extend((variable, source) for source in found)


@dataclass
class Subject:
    """One participant at the export's moment and cutoff."""

    participant: Participant
    placed: Mapping[str, Placed]
    outcomes: ParticipantOutcomes
    derived: ParticipantOutcome
    cutoff: date
    keys: dict[str, Value]
    """STUDYID, USUBJID, SUBJID and SITEID: the first variables of every row."""

    @property
    def id(self) -> str:
        return self.participant.id

    def summary(self, criterion: Criterion) -> ParticipantSummary:
        """The endpoints read's summary: the analysis values every dataset carries."""
        return self.outcomes.summary(criterion, self.cutoff)

    def entries(self, *types: str) -> list[Entry]:
        """Effective entries of those types (voided ones left out, corrections applied)."""
        return self.participant.entries_of(*types)

    def sources(self, role: str, entries: Iterable[Entry]) -> list[Source]:
        """Each entry as a source, followed by the corrections applied to it."""
        found: list[Source] = []
        for entry in entries:
            found.append(self._source(role, entry))
            for correction_id in entry.corrected_by:
                correction = self.participant.entries[correction_id]
                found.append(self._source(CORRECTION_OF + role, correction))
        return found

    def source_of(self, role: str, event_id: str) -> list[Source]:
        return self.sources(role, [self.participant.entries[event_id]])

    def _source(self, role: str, entry: Entry) -> Source:
        placed = self.placed.get(entry.event_id)
        if placed is None or placed.version != entry.version:
            raise ExportInconsistency(f"event {entry.event_id} of {self.id} is not in the "
                                      f"ledger's chain as recorded")
        return Source(role, entry.event_id, placed.type, placed.position, placed.version,
                      placed.recorded_at, entry.occurred_on)


def subject(ledger: TrialLedger, outcomes: ParticipantOutcomes, as_of: str | None, cutoff: date,
            keys: dict[str, Value]) -> Subject:
    """The participant as recorded at `as_of`, placed in the ledger, derived at `cutoff`; the
    endpoints read's summaries must equal the derivation's, criterion by criterion."""
    participant = ledger.participant(outcomes.participant_id, as_of=as_of)
    placed = {event.event_id: Placed(row.position, row.version, row.recorded_at,
                                     type(event).__name__)
              for event, row in ledger.events_of(participant)}
    derived = participant_outcome(participant, cutoff)
    for criterion in CRITERIA:
        if derived.summary(criterion) != outcomes.summary(criterion, cutoff):
            raise ExportInconsistency(
                f"{participant.id} under {criterion} at {cutoff}: the outcome read model and "
                f"the ledger's events give different endpoints")
    return Subject(participant, placed, outcomes, derived, cutoff, keys)
