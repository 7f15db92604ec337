"""Record keeping on the ledger (Part 11): account, study and participant record-keeping
commands (locks, cutoffs, signatures, roles), the save loop they share, and the one retry
policy every write of the application follows on a concurrent write.

A base of `TrialLedger`: every method here is a command or a read of the same application.
The API routes and the CLI call these named commands; neither builds the change itself.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError

from domain.account import Account, account_stream_id
from domain.errors import RuleViolation, UnknownAccount, UnknownParticipant
from domain.ledger_event import Author
from domain.locks import locked_refusal
from domain.participant import Participant
from domain.study import STUDY_STREAM_ID, Study
from infra.ledger.store import ChainRow, LedgerStore

if TYPE_CHECKING:
    from eventsourcing.persistence import Recording

    from services.participant_snapshots import ParticipantSnapshots

A = TypeVar("A", bound=BaseAggregate[str])
WRITE_ATTEMPTS = 50
"""How often a write decides again after a concurrent write to its stream before giving up."""
BACKOFF_SECONDS = 0.002
"""Attempt k waits up to k x this long (uniformly random), so colliding writers spread out."""


def write_attempts(what: str) -> Iterator[int]:
    """The retry policy of every write: attempt numbers to decide and write again on a
    concurrent write (the caller `continue`s, or returns when written), a random back-off
    before each retry, and RuleViolation `write_contention` when all are used up."""
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, BACKOFF_SECONDS * attempt))
        yield attempt
    raise RuleViolation("write_contention",
                        f"{what} is being changed by many writers at once; try again")


@dataclass(frozen=True)
class RecordedEvent:
    """The API's view of one recorded participant event: what was written and where."""

    event_id: str
    participant_id: str
    type: str
    version: int
    position: int
    occurred_on: str
    recorded_at: str
    recorded_by: str
    hash: str

    @classmethod
    def of(cls, participant: Participant, chain: ChainRow) -> RecordedEvent:
        entry = next(e for e in participant.entries.values() if e.version == chain.version)
        return cls(event_id=entry.event_id, participant_id=participant.id, type=entry.type,
                   version=chain.version, position=chain.position,
                   occurred_on=entry.occurred_on.isoformat(), recorded_at=chain.recorded_at,
                   recorded_by=entry.actor, hash=chain.event_hash.hex())

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RecordKeeping(Application[str]):
    """Commands on account, study and participant record-keeping events."""

    store: LedgerStore
    participant_snapshots: ParticipantSnapshots

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stream_mutexes: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._stream_mutexes_guard = threading.Lock()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[str]]:
        """The library's save, then the participant snapshots of the versions it added
        (services/participant_snapshots.py; a snapshot that cannot be written is logged)."""
        recordings: list[Recording[str]] = super().save(*objs, **kwargs)
        self.participant_snapshots.after_save(objs, [r.domain_event for r in recordings])
        return recordings

    def _stream_mutex(self, stream_id: str) -> threading.Lock:
        """This process' mutex of one stream: its writers decide one at a time here (the
        store's own write lock orders the processes)."""
        with self._stream_mutexes_guard:
            return self._stream_mutexes[stream_id]

    def update_stream(self, stream_id: str, decide: Callable[[Any], A]) -> A:
        """Load a stream's aggregate (None when it has no events), let `decide` trigger events
        on it (or return a new aggregate), save; on a concurrent write, decide again."""
        with self._stream_mutex(stream_id):
            for _ in write_attempts(stream_id):
                current: Any
                try:
                    current = self.repository.get(stream_id)
                except AggregateNotFoundError:
                    current = None
                aggregate = decide(current)
                try:
                    self.save(aggregate)
                except IntegrityError:
                    continue
                return aggregate
        raise AssertionError("write_attempts raises when it runs out")

    def recorded_at(self, stream_id: str, version: int) -> str:
        chain = self.store.chain_for_event(stream_id, version)
        assert chain is not None, f"no chain row for {stream_id} v{version}"
        return chain.recorded_at

    # -- the study: cutoffs and the database lock ----------------------------------------

    def stream_as_of(self, stream_id: str, as_of: str | None = None) -> Any:
        """A stream's aggregate as recorded by `as_of` (default: now); None when the stream
        had no events by then."""
        version = None
        if as_of is not None:
            version = self.store.version_as_of(stream_id, as_of)
            if version == 0:
                return None
        try:
            return self.repository.get(stream_id, version=version)
        except AggregateNotFoundError:
            return None

    def study(self, *, as_of: str | None = None) -> Study | None:
        study: Study | None = self.stream_as_of(STUDY_STREAM_ID, as_of)
        return study

    def declared_cutoff(self, name: str) -> date | None:
        """The clinical date of a cutoff a data manager declared under `name`, if any."""
        study = self.study()
        cutoff = study.cutoffs.get(name) if study else None
        return cutoff.cutoff_on if cutoff else None

    def _update_study(self, by: Author, change: Callable[[Study], None]) -> Study:
        def decide(study: Study | None) -> Study:
            study = study or Study.open(by)
            change(study)
            return study
        return self.update_stream(STUDY_STREAM_ID, decide)

    def declare_cutoff(self, name: str, cutoff_on: date, by: Author, reason: str) -> Study:
        """A named clinical cutoff date analyses can name; it never changes (409 if taken)."""
        return self._update_study(by, lambda s: s.declare_cutoff(name, cutoff_on, by, reason))

    def lock_database(self, by: Author, reason: str) -> Study:
        """Every clinical write and signature is refused (409) until the unlock."""
        return self._update_study(by, lambda s: s.lock_database(by, reason))

    def unlock_database(self, by: Author, reason: str) -> Study:
        return self._update_study(by, lambda s: s.unlock_database(by, reason))

    # -- accounts: each command one event in the account's stream --------------------------

    def _change_account(self, username: str, change: Callable[[Account], None]) -> Account:
        """Apply one command to an existing account (UnknownAccount if there is none)."""
        def decide(account: Account | None) -> Account:
            if not isinstance(account, Account):
                raise UnknownAccount(f"there is no account {username!r}")
            change(account)
            return account
        return self.update_stream(account_stream_id(username), decide)

    def lock_account(self, username: str, by: Author, reason: str) -> Account:
        """Locked until an unlock: no sign-in, and its tokens stop working."""
        return self._change_account(username, lambda a: a.lock(by, reason))

    def unlock_account(self, username: str, by: Author, reason: str) -> Account:
        """End a lock or an automatic lockout, and reset the failure count."""
        return self._change_account(username, lambda a: a.unlock(by, reason))

    def deactivate_account(self, username: str, by: Author, reason: str) -> Account:
        """Closed for good; the username is never given to anyone else."""
        return self._change_account(username, lambda a: a.deactivate(by, reason))

    def assign_sites(self, username: str, sites: list[str], by: Author, reason: str
                     ) -> Account:
        return self._change_account(username, lambda a: a.assign_sites(sites, by, reason))

    def grant_role(self, username: str, role: str, by: Author, reason: str) -> Account:
        """Grant `role`, replacing the account's current one."""
        return self._change_account(username, lambda a: a.grant_role(role, by, reason))

    def revoke_role(self, username: str, by: Author, reason: str) -> Account:
        return self._change_account(username, lambda a: a.revoke_role(by, reason))

    def change_password(self, username: str, password_hash: str, by: Author, reason: str
                        ) -> Account:
        """Replace the password hash (the rules and history are checked by the caller,
        services/accounts.py); every token issued before stops working."""
        return self._change_account(
            username, lambda a: a.change_password(password_hash, by, reason))

    def check_writable(self, participant_id: str, participant: Participant | None,
                       study: Study | None | Literal["read"] = "read") -> None:
        """A locked database or participant refuses every clinical write (409). `study`: the
        study record the decision saw (default: read it now)."""
        if study == "read":
            study = self.study()
        if study is not None and study.database_lock is not None:
            raise locked_refusal("the database", study.database_lock,
                                 self.recorded_at(STUDY_STREAM_ID, study.database_lock.version))
        if participant is not None and participant.data_lock is not None:
            raise locked_refusal(f"participant {participant_id}", participant.data_lock,
                                 self.recorded_at(participant_id, participant.data_lock.version))

    # -- participant record keeping: locks and signatures --------------------------------

    def update_participant(self, participant_id: str,
                           change: Callable[[Participant], None]) -> RecordedEvent:
        participant = self._changed_participant(participant_id, change)
        chain = self.store.chain_for_event(participant_id, participant.version)
        assert chain is not None
        return RecordedEvent.of(participant, chain)

    def _changed_participant(self, participant_id: str,
                             change: Callable[[Participant], None]) -> Participant:
        def decide(participant: Participant | None) -> Participant:
            if not isinstance(participant, Participant):
                raise UnknownParticipant(f"participant {participant_id} is not enrolled")
            change(participant)
            return participant
        return self.update_stream(participant_id, decide)

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
        signed = self._changed_participant(participant_id, sign)
        return self.signature_views(signed)[-1]

    def signature_views(self, participant: Participant) -> list[dict[str, Any]]:
        """The participant's signatures as shown (with when each was recorded); the chain is
        read only when there is a signature to show."""
        if not participant.signatures:
            return []
        recorded_at = {row.version: row.recorded_at for row in self.store.chain_for_stream(
            participant.id, up_to_version=participant.version)}
        return [s.view(participant.id, recorded_at[s.version]) for s in participant.signatures]
