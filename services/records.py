"""Record keeping on the ledger (Part 11): signatures, locks, data cutoffs, and the save loop
that the account, study and security-log streams share.

A base of `TrialLedger`: every method here is a command or a read of the same application.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError

from domain.errors import RuleViolation, UnknownParticipant
from domain.ledger_event import Author
from domain.locks import locked_refusal
from domain.participant import Participant
from domain.study import STUDY_STREAM_ID, Study
from infra.ledger.store import ChainRow, LedgerStore

if TYPE_CHECKING:
    from eventsourcing.persistence import Recording

    from services.application import RecordedEvent
    from services.participant_snapshots import ParticipantSnapshots

A = TypeVar("A", bound=BaseAggregate[str])
SAVE_ATTEMPTS = 50


class RecordKeeping(Application[str]):
    """Commands on account, study and participant record-keeping events."""

    store: LedgerStore
    participant_snapshots: ParticipantSnapshots

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[str]]:
        """The library's save, then the participant snapshots of the versions it added
        (services/participant_snapshots.py; a snapshot that cannot be written is logged)."""
        recordings: list[Recording[str]] = super().save(*objs, **kwargs)
        self.participant_snapshots.after_save(objs, [r.domain_event for r in recordings])
        return recordings

    def _stream_lock(self, stream_id: str) -> threading.Lock:
        raise NotImplementedError  # TrialLedger: one in-process lock per stream

    @staticmethod
    def _recorded(participant: Participant, chain: ChainRow) -> RecordedEvent:
        raise NotImplementedError  # TrialLedger: the API's view of one recorded event

    def participant(self, participant_id: str, *, as_of: str | None = None) -> Participant:
        raise NotImplementedError  # TrialLedger: the participant at a recorded time

    def update_stream(self, stream_id: str, decide: Callable[[Any], A]) -> A:
        """Load a stream's aggregate (None when it has no events), let `decide` trigger events
        on it (or return a new aggregate), save; on a concurrent write, decide again."""
        with self._stream_lock(stream_id):
            for attempt in range(SAVE_ATTEMPTS):
                current: Any
                try:
                    current = self.repository.get(stream_id)
                except AggregateNotFoundError:
                    current = None
                aggregate = decide(current)
                try:
                    self.save(aggregate)
                except IntegrityError:
                    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                return aggregate
        raise RuleViolation("write_contention",
                            f"{stream_id} is being changed by many writers at once; try again")

    def recorded_at(self, stream_id: str, version: int) -> str:
        chain = self.store.chain_for_event(stream_id, version)
        assert chain is not None, f"no chain row for {stream_id} v{version}"
        return chain.recorded_at

    # -- the study: cutoffs and the database lock ----------------------------------------

    def study(self, *, as_of: str | None = None) -> Study | None:
        version = None
        if as_of is not None:
            version = self.store.version_as_of(STUDY_STREAM_ID, as_of)
            if version == 0:
                return None
        try:
            study: Study = self.repository.get(STUDY_STREAM_ID, version=version)
        except AggregateNotFoundError:
            return None
        return study

    def declared_cutoff(self, name: str) -> date | None:
        """The clinical date of a cutoff a data manager declared under `name`, if any."""
        study = self.study()
        cutoff = study.cutoffs.get(name) if study else None
        return cutoff.cutoff_on if cutoff else None

    def update_study(self, by: Author, change: Callable[[Study], None]) -> Study:
        def decide(study: Study | None) -> Study:
            study = study or Study.open(by)
            change(study)
            return study
        return self.update_stream(STUDY_STREAM_ID, decide)

    def check_writable(self, participant_id: str, participant: Participant | None,
                       study: Study | None | Literal["read"] = "read") -> None:
        """A locked database or participant refuses every clinical write (409). `study`: the
        study record the decision saw (default: read it now)."""
        if study == "read":
            study = self.study()
        if study is not None and study.lock is not None:
            raise locked_refusal("the database", study.lock,
                                 self.recorded_at(STUDY_STREAM_ID, study.lock.version))
        if participant is not None and participant.lock is not None:
            raise locked_refusal(f"participant {participant_id}", participant.lock,
                                 self.recorded_at(participant_id, participant.lock.version))

    # -- participant record keeping: locks and signatures --------------------------------

    def update_participant(self, participant_id: str,
                           change: Callable[[Participant], None]) -> RecordedEvent:
        def decide(participant: Participant | None) -> Participant:
            if not isinstance(participant, Participant):
                raise UnknownParticipant(f"participant {participant_id} is not enrolled")
            change(participant)
            return participant
        participant = self.update_stream(participant_id, decide)
        chain = self.store.chain_for_event(participant_id, participant.version)
        assert chain is not None
        return self._recorded(participant, chain)

    def lock_participant(self, participant_id: str, by: Author, reason: str,
                         today: date) -> RecordedEvent:
        return self.update_participant(
            participant_id, lambda p: p.lock_record(on=today, by=by, reason=reason))

    def unlock_participant(self, participant_id: str, by: Author, reason: str,
                           today: date) -> RecordedEvent:
        return self.update_participant(
            participant_id, lambda p: p.unlock_record(on=today, by=by, reason=reason))

    def transfer_participant(self, participant_id: str, to_site: str, by: Author, reason: str,
                             today: date) -> RecordedEvent:
        """A data manager moves the participant to another site (a locked record refuses)."""
        def transfer(participant: Participant) -> None:
            self.check_writable(participant_id, participant)
            participant.transfer(to_site, on=today, by=by, reason=reason)
        return self.update_participant(participant_id, transfer)

    def sign_casebook(self, participant_id: str, *, full_name: str, meaning: str,
                      by: Author, today: date) -> dict[str, Any]:
        """Sign the stream as it stands: its version and chain hash go into the signature."""
        def sign(participant: Participant) -> None:
            self.check_writable(participant_id, participant)
            covered = self.store.chain_for_event(participant_id, participant.version)
            assert covered is not None
            participant.sign(full_name=full_name, meaning=meaning,
                             covers_hash=covered.event_hash.hex(), on=today, by=by)
        recorded = self.update_participant(participant_id, sign)
        return next(s for s in self.signatures_of(participant_id)
                    if s["signature_id"] == recorded.event_id)

    def signatures_of(self, participant_id: str, *, as_of: str | None = None
                      ) -> list[dict[str, Any]]:
        """Every signature of the participant, valid or invalidated, as known at `as_of`."""
        return self.signature_views(self.participant(participant_id, as_of=as_of))

    def signature_views(self, participant: Participant) -> list[dict[str, Any]]:
        """The participant's signatures as shown (with when each was recorded); the chain is
        read only when there is a signature to show."""
        if not participant.signatures:
            return []
        recorded_at = {row.version: row.recorded_at for row in self.store.chain_for_stream(
            participant.id, up_to_version=participant.version)}
        return [s.view(participant.id, recorded_at[s.version]) for s in participant.signatures]
