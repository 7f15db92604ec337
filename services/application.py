"""The trial ledger application: one method per command, each load -> decide -> save.

Built on the eventsourcing library's `Application`; its recorder (infra.event_store) writes the
hash chain and the idempotency claim in the same transaction as the events.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
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
from infra.ledger.group_commit import GroupCommitter
from infra.ledger.group_write import PendingWrite, insert_group
from infra.ledger.store import ChainRow, IdempotencyRecord, LedgerStore
from infra.settings import Settings
from services.decisions import DecisionCache, DecisionState
from services.participant_snapshots import Loaded, ParticipantSnapshots, fold_events
from services.records import RecordedEvent, RecordKeeping, write_attempts

PARTICIPANT_TOPIC_PREFIX = "domain.participant:"
ACCOUNT_TOPIC_PREFIX = "domain.account:"


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
    provenance: dict[str, Any] | None = None
    """An imported event's original audit record, stored inside the event (import only)."""
    event_id: str | None = None
    """An imported event's original event id, kept so corrections and voids still name
    their targets (import only, into an empty store; otherwise a fresh id)."""

    def fingerprint(self, participant_id: str) -> str:
        """What 'the same body' means for Idempotency-Key: the same parsed request (an
        import's provenance and event id count only when given)."""
        body: dict[str, Any] = {
            "participant_id": participant_id,
            "type": self.type,
            "occurred_on": self.occurred_on.isoformat(),
            "data": self.data.model_dump(mode="json"),
            "reason": self.reason,
            "expected_version": self.expected_version,
        }
        if self.provenance is not None:
            body["provenance"] = self.provenance
        if self.event_id is not None:
            body["event_id"] = self.event_id
        canonical = json.dumps(
            body,
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class BatchItem:
    """One event of a batch: its participant, its validated submission and its own key."""

    participant_id: str
    submission: Submission
    idempotency_key: str


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one item: its recorded event (appended now, or the replay of an
    earlier request with its key), or the refusal."""

    recorded: RecordedEvent | None = None
    appended: bool = False
    error: Exception | None = None


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
        self.decisions = DecisionCache(engine, self.mapper)
        self.committer = GroupCommitter(partial(insert_group, self.recorder))

    def close(self) -> None:
        self.decisions.close()
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
        state: DecisionState | None = None,
    ) -> tuple[RecordedEvent, bool]:
        """Record one event; returns it and whether it was newly appended (False = replay).

        Decides on `state` (default: read now, one round trip), then joins the next group
        transaction, which appends the event only if the participant and the study are still
        at the versions decided on and the Idempotency-Key is unclaimed (ADR 0011); otherwise
        it decides again on a fresh read. The client's Idempotency-Key, else the request id,
        is stored inside the event.
        """
        today = today or datetime.now(UTC).date()
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(actor.username, idempotency_key,
                                     submission.fingerprint(participant_id))
        with self._stream_mutex(participant_id):
            for _ in write_attempts(f"participant {participant_id}"):
                state = state or self.decisions.state(participant_id)
                try:
                    participant = self._decide(state, submission, actor,
                                               claim.key if claim else request_id, today)
                except RuleViolation:
                    # A retried request is answered as it was the first time, whatever the
                    # participant's state now (only a refusal pays for this look-up).
                    replay = self._replay(claim, participant_id) if claim else None
                    if replay is not None:
                        return replay, False
                    raise
                events = participant.collect_events()
                pending = PendingWrite([self.mapper.to_stored_event(e) for e in events],
                                       claim, state.study_version,
                                       also=self.participant_snapshots.prepare(participant,
                                                                               events))
                self.committer.submit(pending)
                if pending.chain:
                    self.decisions.put(participant)
                    return RecordedEvent.of(participant, pending.chain[-1]), True
                if pending.conflict == "claimed":
                    assert claim is not None
                    return self._replayed(claim, participant_id, pending.claimed), False
                state = None
                if pending.conflict == "stream" and submission.expected_version is not None:
                    self._check_expected_version(participant_id, submission)
        raise AssertionError("write_attempts raises when it runs out")

    def record_participant_events(
        self,
        items: Sequence[BatchItem],
        actor: Actor,
        *,
        check: Callable[[Any, BatchItem], None],
        refusals: tuple[type[Exception], ...],
        today: date | None = None,
    ) -> list[BatchOutcome]:
        """Record many events, each on its own: one read per participant, every decision in
        order (an item decides on the participant as the earlier items of the batch left
        it), then one group transaction for all that were decided (ADR 0011). `check` is the
        caller's access check of an item against the participant it would change (None: not
        enrolled); an exception of `refusals` from it or from the rules refuses that item
        alone and leaves no trace. An item set aside by the group transaction (its
        participant or the study moved meanwhile) is decided again on its own, as a single
        request is."""
        today = today or datetime.now(UTC).date()
        outcomes = [BatchOutcome() for _ in items]
        decided: list[tuple[int, PendingWrite, Participant]] = []
        states: dict[str, DecisionState] = {}
        for index, item in enumerate(items):
            pid = item.participant_id
            state = states.get(pid) or self.decisions.state(pid)
            claim = IdempotencyClaim(actor.username, item.idempotency_key,
                                     item.submission.fingerprint(pid))
            try:
                check(state.participant, item)
                participant = self._decide(state, item.submission, actor, claim.key, today)
            except refusals as refusal:
                outcomes[index] = self._refused(refusal, claim, pid, refusals)
                continue
            events = participant.collect_events()
            decided.append((index, PendingWrite(
                [self.mapper.to_stored_event(e) for e in events], claim, state.study_version,
                also=self.participant_snapshots.prepare(participant, events)), participant))
            states[pid] = DecisionState(pid, participant, state.study, state.study_version)
        if decided:
            self.committer.submit(*(pending for _, pending, _ in decided))
        again: list[int] = []
        for index, pending, participant in decided:
            if pending.chain:
                self.decisions.put(participant)
                outcomes[index] = BatchOutcome(RecordedEvent.of(participant, pending.chain[-1]),
                                               appended=True)
            elif pending.conflict == "claimed" and pending.claim is not None:
                try:
                    outcomes[index] = BatchOutcome(self._replayed(
                        pending.claim, items[index].participant_id, pending.claimed))
                except refusals as refusal:
                    outcomes[index] = BatchOutcome(error=refusal)
            else:
                again.append(index)
        for index in again:
            outcomes[index] = self._one_again(items[index], actor, check, refusals, today)
        return outcomes

    def _one_again(self, item: BatchItem, actor: Actor, check: Callable[[Any, BatchItem], None],
                   refusals: tuple[type[Exception], ...], today: date) -> BatchOutcome:
        state = self.decisions.state(item.participant_id)
        try:
            check(state.participant, item)
            recorded, appended = self.record_participant_event(
                item.participant_id, item.submission, actor,
                idempotency_key=item.idempotency_key, today=today, state=state)
        except refusals as refusal:
            return BatchOutcome(error=refusal)
        return BatchOutcome(recorded, appended=appended)

    def _refused(self, refusal: Exception, claim: IdempotencyClaim, participant_id: str,
                 refusals: tuple[type[Exception], ...]) -> BatchOutcome:
        """A refused item, unless its key already recorded this very request (a retried
        batch is answered as it was the first time)."""
        try:
            replay = self._replay(claim, participant_id)
        except refusals as reused:
            return BatchOutcome(error=reused)
        return BatchOutcome(replay) if replay is not None else BatchOutcome(error=refusal)

    def _decide(self, state: DecisionState, submission: Submission, actor: Actor,
                client_request_id: str | None, today: date) -> Participant:
        """The participant with the submission's event pending: a copy of the cached state
        (which readers may be holding) with the entry recorded after every rule check."""
        participant_id = state.participant_id
        entry = NewEntry(
            event_id=submission.event_id or str(uuid.uuid4()),
            type=submission.type,
            occurred_on=submission.occurred_on,
            data=submission.data,
            reason=submission.reason,
            actor=actor.username,
            role=actor.role,
            client_request_id=client_request_id,
            provenance=submission.provenance,
        )
        current = state.participant
        if current is None:
            self.check_writable(participant_id, None, state.study)
            if submission.type != "ParticipantEnrolled":
                raise UnknownParticipant(
                    f"participant {participant_id} is not enrolled: "
                    "post ParticipantEnrolled first"
                )
            if submission.expected_version not in (None, 0):
                raise StaleVersion(
                    "expected_version",
                    f"expected_version is {submission.expected_version} but participant "
                    f"{participant_id} has no events yet (version 0)",
                )
            return Participant.enroll(participant_id, entry, today=today)
        if not isinstance(current, Participant):
            raise UnknownParticipant(f"{participant_id} is not a participant")
        self.check_writable(participant_id, current, state.study)
        if submission.expected_version not in (None, current.version):
            raise self._stale(participant_id, submission, current.version)
        return current.recorded(entry, today=today)

    def _check_expected_version(self, participant_id: str, submission: Submission) -> None:
        current: int = self.repository.get(participant_id).version
        raise self._stale(participant_id, submission, current)

    @staticmethod
    def _stale(participant_id: str, submission: Submission, current: int) -> StaleVersion:
        return StaleVersion(
            "expected_version",
            f"expected_version is {submission.expected_version} but participant "
            f"{participant_id} is at version {current}: reload the casebook and re-enter",
        )

    def _replay(self, claim: IdempotencyClaim, participant_id: str) -> RecordedEvent | None:
        """The event a claimed Idempotency-Key recorded (None: the key is unclaimed)."""
        record = self.store.idempotency(claim.username, claim.key)
        return None if record is None else self._replayed(claim, participant_id, record)

    def _replayed(self, claim: IdempotencyClaim, participant_id: str,
                  record: IdempotencyRecord | None) -> RecordedEvent:
        if record is None:  # claimed by another request of the same group transaction
            record = self.store.idempotency(claim.username, claim.key)
            assert record is not None
        if record.fingerprint != claim.fingerprint or record.stream_id != participant_id:
            raise IdempotencyKeyReused(
                "idempotency_key_reused",
                f"Idempotency-Key {claim.key!r} was already used for a different request; "
                "use a new key for a new entry",
            )
        chain = self.store.chain_for_event(record.stream_id, record.version)
        assert chain is not None
        participant: Participant = self.repository.get(record.stream_id, version=record.version)
        return RecordedEvent.of(participant, chain)

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
        participant = self.decisions.state(participant_id).participant
        if participant is None:
            raise UnknownParticipant(f"participant {participant_id} is not enrolled")
        if not isinstance(participant, Participant):
            raise UnknownParticipant(f"{participant_id} is not a participant")
        return participant

    def decision_state(self, participant_id: str) -> DecisionState:
        """What a write to the participant decides on, read now (one round trip); pass it to
        `record_participant_event` to decide without reading again."""
        return self.decisions.state(participant_id)

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

    def signatures_of(self, participant_id: str, *, as_of: str | None = None
                      ) -> list[dict[str, Any]]:
        """Every signature of the participant, valid or invalidated, as known at `as_of`."""
        return self.signature_views(self.participant(participant_id, as_of=as_of))

    def participant_ids(self, *, as_of: str | None = None) -> list[tuple[str, int]]:
        return self.store.streams(PARTICIPANT_TOPIC_PREFIX, as_of=as_of)
