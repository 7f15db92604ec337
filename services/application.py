"""The trial ledger application: one method per command, each load -> decide -> save.

Built on the eventsourcing library's `Application`; its recorder (infra.event_store) writes the
hash chain and the idempotency claim in the same transaction as the events.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy.engine import Engine

from domain.account import (
    ACCOUNT_STREAM_PREFIX,
    USERNAME_PATTERN,
    Account,
    account_stream_id,
)
from domain.errors import RuleViolation, UnknownParticipant
from domain.events import Payload
from domain.participant import NewEntry, Participant
from infra.event_store import IdempotencyClaim
from infra.ledger.store import ChainRow, LedgerStore
from infra.settings import Settings
from services.participant_snapshots import Loaded, ParticipantSnapshots, fold_events
from services.records import RecordKeeping

PARTICIPANT_TOPIC_PREFIX = "domain.participant:"
ACCOUNT_TOPIC_PREFIX = "domain.account:"
MAX_CONFLICT_RETRIES = 50


@dataclass(frozen=True)
class Actor:
    """Who is acting: the authenticated account's name, role and sites."""

    username: str
    role: str
    full_name: str = ""
    sites: tuple[str, ...] = ()


@dataclass(frozen=True)
class Submission:
    """A validated request to record one event."""

    type: str
    occurred_on: date
    data: Payload
    reason: str | None
    expected_version: int | None = None

    def fingerprint(self, participant_id: str) -> str:
        """What 'the same body' means for Idempotency-Key: the same parsed request."""
        canonical = json.dumps(
            {
                "participant_id": participant_id,
                "type": self.type,
                "occurred_on": self.occurred_on.isoformat(),
                "data": self.data.model_dump(mode="json"),
                "reason": self.reason,
                "expected_version": self.expected_version,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RecordedEvent:
    event_id: str
    participant_id: str
    type: str
    version: int
    position: int
    occurred_on: str
    recorded_at: str
    recorded_by: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class StaleVersion(RuleViolation):
    """The client's expected_version is not the participant's current version."""


class IdempotencyKeyReused(RuleViolation):
    """The Idempotency-Key was used before with a different request."""


class TrialLedger(RecordKeeping):
    """Commands and point-in-time reads over the participant, account and study streams."""

    name = "stored"  # the library derives the event table's name from this: stored_events

    def __init__(self, settings: Settings, engine: Engine) -> None:
        env = settings.database.eventsourcing_env(
            lock_timeout=settings.lock_timeout_seconds, pool_size=settings.pool_size
        )
        super().__init__(env=env)
        self.store = LedgerStore(engine)
        self.participant_snapshots = ParticipantSnapshots(engine, settings, self.mapper)
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _stream_lock(self, stream_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[stream_id]

    def close(self) -> None:
        self.participant_snapshots.close()
        super().close()

    # -- commands ------------------------------------------------------------------------

    def record_participant_event(
        self,
        participant_id: str,
        submission: Submission,
        actor: Actor,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        today: date | None = None,
    ) -> tuple[RecordedEvent, bool]:
        """Record one event; returns it and whether it was newly appended (False = replay).

        The client's Idempotency-Key, else the request id, is stored inside the event.
        """
        today = today or datetime.now(UTC).date()
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(actor.username, idempotency_key,
                                     submission.fingerprint(participant_id))
            replay = self._replay(claim, participant_id)
            if replay is not None:
                return replay, False
        with self._stream_lock(participant_id):
            for attempt in range(MAX_CONFLICT_RETRIES):
                participant = self._decide(participant_id, submission, actor,
                                           claim.key if claim else request_id, today)
                try:
                    recordings = self.save(participant, idempotency=claim)
                except IntegrityError:
                    replay = self._replay(claim, participant_id) if claim else None
                    if replay is not None:
                        return replay, False
                    if submission.expected_version is not None:
                        self._check_expected_version(participant_id, submission)
                    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                position = recordings[-1].notification.id
                chain = self.store.chain_at(position)
                assert chain is not None, f"no chain row at position {position}"
                return self._recorded(participant, chain), True
        raise RuleViolation(
            "write_contention",
            f"participant {participant_id} is being changed by many writers at once; try again",
        )

    def _decide(self, participant_id: str, submission: Submission, actor: Actor,
                client_request_id: str | None, today: date) -> Participant:
        entry = NewEntry(
            event_id=str(uuid.uuid4()),
            type=submission.type,
            occurred_on=submission.occurred_on,
            data=submission.data,
            reason=submission.reason,
            actor=actor.username,
            role=actor.role,
            client_request_id=client_request_id,
        )
        try:
            participant: Participant = self.repository.get(participant_id)
        except AggregateNotFoundError:
            self.check_writable(participant_id, None)
            if submission.type != "ParticipantEnrolled":
                raise UnknownParticipant(
                    f"participant {participant_id} is not enrolled: "
                    "post ParticipantEnrolled first"
                ) from None
            if submission.expected_version not in (None, 0):
                raise StaleVersion(
                    "expected_version",
                    f"expected_version is {submission.expected_version} but participant "
                    f"{participant_id} has no events yet (version 0)",
                ) from None
            return Participant.enroll(participant_id, entry, today=today)
        self.check_writable(participant_id, participant)
        if submission.expected_version not in (None, participant.version):
            raise self._stale(participant_id, submission, participant.version)
        participant.record(entry, today=today)
        return participant

    def _check_expected_version(self, participant_id: str, submission: Submission) -> None:
        current = self.repository.get(participant_id).version
        raise self._stale(participant_id, submission, current)

    @staticmethod
    def _stale(participant_id: str, submission: Submission, current: int) -> StaleVersion:
        return StaleVersion(
            "expected_version",
            f"expected_version is {submission.expected_version} but participant "
            f"{participant_id} is at version {current}: reload the casebook and re-enter",
        )

    def _replay(self, claim: IdempotencyClaim, participant_id: str) -> RecordedEvent | None:
        record = self.store.idempotency(claim.username, claim.key)
        if record is None:
            return None
        if record.fingerprint != claim.fingerprint or record.stream_id != participant_id:
            raise IdempotencyKeyReused(
                "idempotency_key_reused",
                f"Idempotency-Key {claim.key!r} was already used for a different request; "
                "use a new key for a new entry",
            )
        chain = self.store.chain_for_event(record.stream_id, record.version)
        assert chain is not None
        participant = self.repository.get(record.stream_id, version=record.version)
        return self._recorded(participant, chain)

    @staticmethod
    def _recorded(participant: Participant, chain: ChainRow) -> RecordedEvent:
        entry = next(e for e in participant.entries.values() if e.version == chain.version)
        return RecordedEvent(
            event_id=entry.event_id,
            participant_id=participant.id,
            type=entry.type,
            version=chain.version,
            position=chain.position,
            occurred_on=entry.occurred_on.isoformat(),
            recorded_at=chain.recorded_at,
            recorded_by=entry.actor,
            hash=chain.event_hash.hex(),
        )

    def create_account(self, account: Account) -> int:
        try:
            recordings = self.save(account)
        except IntegrityError:
            raise RuleViolation(
                "username_unique",
                f"the username {account.username!r} is taken: usernames are never reused",
            ) from None
        return recordings[-1].notification.id

    # -- reads ---------------------------------------------------------------------------

    def account(self, username: str) -> Account | None:
        """The account named `username`; None when there is none (a name no account could
        have, e.g. one holding control characters, is not looked up at all)."""
        if not USERNAME_PATTERN.fullmatch(username):
            return None
        try:
            account: Account = self.repository.get(account_stream_id(username))
        except AggregateNotFoundError:
            return None
        return account

    def usernames(self) -> list[str]:
        """Every account ever created (deactivated ones included: names are never reused)."""
        return [stream_id.removeprefix(ACCOUNT_STREAM_PREFIX)
                for stream_id, _ in self.store.streams(ACCOUNT_TOPIC_PREFIX)]

    def participant(self, participant_id: str, *, as_of: str | None = None) -> Participant:
        """The participant as the system knew them at recorded time `as_of` (default: now).

        Read-only: a current read is the cached aggregate itself, not a copy; commands load
        their own copy through `_decide`. A read as of a time starts from the newest snapshot
        at or below the version recorded by then (services/participant_snapshots.py)."""
        if as_of is None:
            return self._current(participant_id)
        participant: Participant = self.point_in_time(participant_id, as_of=as_of).aggregate
        return participant

    def point_in_time(self, participant_id: str, *, as_of: str | None = None) -> Loaded:
        """The participant at `as_of` (default: now) from snapshots, in one store round trip,
        with the casebook's cached outcome views where there are some."""
        try:
            loaded = self.participant_snapshots.load(participant_id, as_of=as_of)
        except LookupError:  # no snapshot key: fold the log as the repository does
            loaded = Loaded(self._from_log(participant_id, as_of), None, 0, 0)
        if loaded is None:
            when = f" as of {as_of}" if as_of is not None else ""
            verb = "was" if as_of is not None else "is"
            raise UnknownParticipant(f"participant {participant_id} {verb} not enrolled{when}")
        if not isinstance(loaded.aggregate, Participant):
            raise UnknownParticipant(f"{participant_id} is not a participant")
        return loaded

    def _current(self, participant_id: str) -> Participant:
        try:
            participant: Participant = self.repository.get(
                participant_id, projector_func=fold_events, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            raise UnknownParticipant(f"participant {participant_id} is not enrolled") from None
        if not isinstance(participant, Participant):
            raise UnknownParticipant(f"{participant_id} is not a participant")
        return participant

    def _from_log(self, participant_id: str, as_of: str | None) -> Any:
        """The stream folded from its first event (None: no event by `as_of`)."""
        version = None
        if as_of is not None:
            version = self.store.version_as_of(participant_id, as_of)
            if version == 0:
                return None
        try:
            return self.repository.get(participant_id, version=version,
                                       projector_func=fold_events, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None

    def participant_events(self, participant_id: str, *, as_of: str | None = None
                           ) -> list[tuple[Participant.Event, ChainRow]]:
        return self.events_of(self.participant(participant_id, as_of=as_of))

    def events_of(self, participant: Participant) -> list[tuple[Participant.Event, ChainRow]]:
        """The participant's events up to its version, each with its chain row."""
        chain = {row.version: row for row in
                 self.store.chain_for_stream(participant.id, up_to_version=participant.version)}
        events = cast("list[Participant.Event]", list(
            self.repository.event_store.get(participant.id, lte=participant.version)))
        return [(event, chain[event.originator_version]) for event in events]

    def participant_ids(self, *, as_of: str | None = None) -> list[tuple[str, int]]:
        return self.store.streams(PARTICIPANT_TOPIC_PREFIX, as_of=as_of)
