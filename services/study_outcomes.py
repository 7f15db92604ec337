"""Every participant's outcomes at a recorded time, for the study-wide reads: endpoints, safety,
survival curves.

Served from the `participant_outcomes` read model: one select of the rows true at the asked
recorded time, and per participant either the summary stored for cutoffs past their last
dated entry or a small fold of their stored facts (domain/outcome_facts.py). Participants the
projector has not reached yet are folded from the log, so the answer is the same as folding
everyone (tests/integration/test_outcome_reads.py holds the two equal at random times and
cutoffs).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from domain.analysis.endpoints import ParticipantSummary, endpoints_report
from domain.analysis.safety import AdverseEventRecord, SafetyReport
from domain.analysis.safety import safety_report as safety_report_of
from domain.outcome_facts import OutcomeFacts, adverse_events_at, outcome_facts, summary_at
from domain.protocol import CRITERIA, Criterion
from projections.outcome_documents import facts_from_documents, settled_from_document
from projections.outcome_rows import outcome_rows
from services.application import PARTICIPANT_TOPIC_PREFIX, TrialLedger

REPLACED = "\ufffd"  # what domain.text.storable puts in place of text a store cannot hold


class ParticipantOutcomes:
    """One participant's outcomes at a recorded time, at any clinical cutoff."""

    __slots__ = (
        "_adverse_events",
        "_documents",
        "_facts",
        "_settled",
        "_summaries",
        "enrolled_on",
        "participant_id",
        "settled_from",
        "site_id",
    )

    def __init__(self, participant_id: str, site_id: str, enrolled_on: date,
                 settled_from: date, settled: str | None = None,
                 documents: tuple[str, str, str] | None = None,
                 facts: OutcomeFacts | None = None) -> None:
        """`settled`, `documents` (vital, criteria, adverse events): the stored row's JSON,
        decoded when first needed; or `facts`, derived from the log."""
        self.participant_id, self.site_id = participant_id, site_id
        self.enrolled_on, self.settled_from = enrolled_on, settled_from
        self._settled = settled
        self._documents, self._facts = documents, facts
        self._summaries: dict[str, ParticipantSummary] = {}
        self._adverse_events: list[AdverseEventRecord] | None = None

    @classmethod
    def of(cls, facts: OutcomeFacts) -> ParticipantOutcomes:
        return cls(facts.participant_id, facts.site_id, facts.enrolled_on, facts.settled_from,
                   facts=facts)

    @property
    def facts(self) -> OutcomeFacts:
        if self._facts is None:
            assert self._documents is not None
            self._facts = facts_from_documents(self.participant_id, self.site_id,
                                               self.enrolled_on, self.settled_from,
                                               *self._documents)
        return self._facts

    def summary(self, criterion: Criterion, cutoff: date) -> ParticipantSummary:
        if cutoff < self.settled_from:
            return summary_at(self.facts, criterion, cutoff)
        if not self._summaries:
            if self._settled is None:
                self._summaries = {c: summary_at(self.facts, c, self.settled_from)
                                   for c in CRITERIA}
            else:
                self._summaries = settled_from_document(self._settled)
        return self._summaries[criterion]

    def treated_by(self, cutoff: date) -> date | None:
        return self.facts.started_by(cutoff)

    def adverse_events(self, cutoff: date) -> list[AdverseEventRecord]:
        """The AEs at `cutoff`; from `settled_from` on (past every dated entry) they no longer
        change, so they are folded once for every such cutoff, like the settled summaries."""
        if cutoff < self.settled_from:
            return adverse_events_at(self.facts, cutoff)
        if self._adverse_events is None:
            self._adverse_events = adverse_events_at(self.facts, self.settled_from)
        return self._adverse_events


def study_outcomes(ledger: TrialLedger, engine: Engine, sites: tuple[str, ...] | None,
                   as_of: str | None) -> list[ParticipantOutcomes]:
    """The participants enrolled as of `as_of` (None: now) at `sites` (None: every site), in
    id order."""
    decoded = _decoded(engine)
    found = outcome_rows(engine, PARTICIPANT_TOPIC_PREFIX, as_of, sites, decoded)
    if found is None or any(REPLACED in str(row[0]) or REPLACED in str(row[2])
                            for row in found.rows):
        # Rebuilds kept switching generations, or a row holds text made storable: fold all.
        return _folded(ledger, [pid for pid, _ in ledger.participant_ids(as_of=as_of)], sites,
                       as_of)
    chosen = []
    for pid, start, site, enrolled in found.rows:
        key = (found.generation, pid, start)
        outcome = decoded.get(key)
        if outcome is None:
            settled_from, settled, *documents = found.payloads[(pid, start)]
            outcome = ParticipantOutcomes(str(pid), str(site), date.fromisoformat(enrolled),
                                          date.fromisoformat(settled_from), settled,
                                          (documents[0], documents[1], documents[2]))
            decoded.put(key, outcome)
        chosen.append(outcome)
    chosen += _folded(ledger, found.changed, sites, as_of)
    return sorted(chosen, key=lambda p: p.participant_id)


class _Decoded:
    """Outcome rows already decoded, by (generation, participant, from_position): a row never
    changes what it holds, so a later read takes it as decoded before (least recently used
    first out)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[tuple[int, str, int], ParticipantOutcomes] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def get(self, key: tuple[int, str, int]) -> ParticipantOutcomes | None:
        return self._rows.get(key)

    def put(self, key: tuple[int, str, int], outcome: ParticipantOutcomes) -> None:
        with self._lock:
            self._rows[key] = outcome
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


DECODED_ROWS = 20_000
_DECODED: weakref.WeakKeyDictionary[Engine, _Decoded] = weakref.WeakKeyDictionary()
_DECODED_LOCK = threading.Lock()


def _decoded(engine: Engine) -> _Decoded:
    with _DECODED_LOCK:
        found = _DECODED.get(engine)
        if found is None:
            found = _DECODED[engine] = _Decoded(DECODED_ROWS)
        return found


def _folded(ledger: TrialLedger, ids: Sequence[str], sites: tuple[str, ...] | None,
            as_of: str | None) -> list[ParticipantOutcomes]:
    chosen = []
    for pid in ids:
        participant = ledger.participant(pid, as_of=as_of)
        if sites is None or participant.site_id in sites:
            chosen.append(ParticipantOutcomes.of(outcome_facts(participant)))
    return chosen


def endpoints(outcomes: Sequence[ParticipantOutcomes], criterion: Criterion, cutoff: date,
              as_of: datetime) -> dict[str, Any]:
    """The docs/api.md endpoints body; participants enrolled after the cutoff are not yet in it."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; use one of {', '.join(CRITERIA)}")
    summaries = [o.summary(criterion, cutoff) for o in outcomes if o.enrolled_on <= cutoff]
    return endpoints_report(summaries, criteria=criterion, cutoff=cutoff, as_of=as_of)


def safety_report(outcomes: Sequence[ParticipantOutcomes], cutoff: date) -> SafetyReport:
    """Treatment-emergent AE tables over the participants treated by the cutoff."""
    starts = {o.participant_id: start for o in outcomes
              if (start := o.treated_by(cutoff)) is not None}
    records = [record for o in outcomes for record in o.adverse_events(cutoff)]
    return safety_report_of(records, starts, cutoff=cutoff)
