"""Point-in-time participant reads from snapshots, and the snapshots a save leaves behind.

A read of participant P at recorded time T (or at a version) asks the store once
(`SnapshotStore.bundle`): P's version v at T, the newest verified aggregate snapshot at or
below v, the events after it up to v, and the newest verified outcome row at or below v. The
aggregate is decoded and the few events after it folded on, as the repository would fold
them all. The outcome row's views are the casebook's `assessments`, best overall response,
PFS and DOR; the casebook uses them only when the folded participant has the row's
`outcome_key` (services/casebook_outcomes.py), and derives them otherwise.

After every save of a participant (`after_save`), for each version the save added: an
aggregate snapshot once `AGGREGATE_EVERY` versions have passed since the last one, and an
outcome row whenever the outcome key differs from the last row's. A save of many events at
once (a seed, a bench) replays them one by one from the version before, so every version gets
what a save of one event would have left. Snapshots are an optimisation: a failure to write
one is logged and the command it followed stands; a read without one folds the log.

Snapshots need a MAC key the database does not hold; it is derived from the service's token
secret (`snapshot_key`). Without one (a read-only command that cannot read the secret), no
snapshot is read: reads fold the log.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy.engine import Engine

from domain.participant import Participant
from domain.participant_outcome import participant_outcome
from infra.ledger.store import ChainRow
from infra.logging import get_logger
from infra.secret_files import InsecureSecretFile
from infra.secrets import read_token_secret
from infra.settings import Settings
from infra.snapshot_store import AGGREGATE, OUTCOME, SnapshotRow, SnapshotStore
from services.casebook_outcomes import (
    OUTCOME_INPUT_TYPES,
    EntryIndex,
    outcome_key,
    outcome_views,
)
from services.participant_codec import (
    FINGERPRINT,
    decode_participant,
    decode_views,
    encode_participant,
    encode_views,
)

AGGREGATE_EVERY = 5
"""Versions between aggregate snapshots: a read folds at most this many events minus one
(each costs about what decoding a twentieth of a long snapshot does; see bench/README.md)."""
REMEMBERED = 20_000
log = get_logger("trial_ledger.snapshots")


def fold_events(aggregate: Any, events: Any) -> Any:
    """The library's fold without its per-event runtime protocol check (most of a read's time
    for a long stream); every stored event here is one of our own event classes."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def snapshot_key(settings: Settings) -> bytes | None:
    """The snapshots' MAC key, derived from the token secret (as the sign-in name digests
    are). The server and the commands that write create that secret at start
    (`infra.secrets.ensure_secrets`); here it is only read, and without one no snapshot is
    read (None)."""
    try:
        secret = read_token_secret(settings)
    except (OSError, InsecureSecretFile):  # the service itself refuses to start on these
        return None
    if not secret:
        return None
    return hmac.new(secret.encode(), b"trial-ledger participant snapshots",
                    hashlib.sha256).digest()


@dataclass(frozen=True)
class CachedOutcome:
    """An outcome row: the key of the inputs its views were derived from, and the views."""

    key: str
    payload: bytes

    def views(self) -> dict[str, Any]:
        return decode_views(self.payload)


@dataclass(frozen=True)
class Loaded:
    """A stream folded at one version, and what the read started from."""

    aggregate: Any
    outcome: CachedOutcome | None
    snapshot_version: int
    """The aggregate snapshot's version (0: folded from the first event)."""
    folded: int
    """Events decoded and folded on top of it."""


class ParticipantSnapshots:
    """Snapshot reads and writes for one application (its mapper decodes the events)."""

    def __init__(self, engine: Engine, settings: Settings, mapper: Mapper[str]) -> None:
        self.engine = engine
        self.settings = settings
        self.mapper = mapper
        self._store: SnapshotStore | None = None
        self._latest: dict[str, tuple[int, str | None]] = {}
        """Per participant: the aggregate version and outcome key this process last left."""
        self._guard = threading.Lock()

    def store(self) -> SnapshotStore | None:
        """The store under the MAC key, once a key exists."""
        if self._store is None:
            key = snapshot_key(self.settings)
            if key is not None:
                self._store = SnapshotStore(self.engine, key, FINGERPRINT)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # -- reads --------------------------------------------------------------------------

    def load(self, stream_id: str, *, as_of: str | None = None, version: int | None = None
             ) -> Loaded | None:
        """The stream at `as_of` (or `version`, or now); None when it had no event by then.
        Raises LookupError when no snapshot store is available (no key)."""
        store = self.store()
        if store is None:
            raise LookupError("no snapshot key")
        bundle = store.bundle(stream_id, as_of=as_of, version=version)
        if bundle.version == 0:
            return None
        start, events = None, bundle.events
        if bundle.aggregate is not None:
            try:
                start = decode_participant(bundle.aggregate.payload)
            except Exception:  # a verified row of this codec always decodes
                log.exception("snapshot_not_used", stream=stream_id,
                              version=bundle.aggregate.version, why="it does not decode")
                events = store.events(stream_id, 0, bundle.version)
        aggregate = fold_events(start, (self.mapper.to_domain_event(
            StoredEvent(stream_id, row.version, row.topic, row.state)) for row in events))
        outcome = None
        if bundle.outcome is not None and bundle.outcome.input_key:
            outcome = CachedOutcome(bundle.outcome.input_key, bundle.outcome.payload)
        started_at = bundle.aggregate.version if start is not None and bundle.aggregate else 0
        return Loaded(aggregate, outcome, started_at, len(events))

    # -- writes -------------------------------------------------------------------------

    def after_save(self, aggregates: Sequence[Any], events: Sequence[Any]) -> None:
        """Snapshot each saved participant at the versions this save added (never raises)."""
        for aggregate in aggregates:
            if not isinstance(aggregate, Participant):
                continue
            added = [e for e in events if e.originator_id == aggregate.id]
            if not added:
                continue
            try:
                self._snapshot(aggregate, added)
            except Exception:  # a snapshot is an optimisation, never a failure
                log.exception("snapshot_failed", stream=aggregate.id, version=aggregate.version)

    def prepare(self, participant: Participant, added: Sequence[Any]
                ) -> Callable[[Any, Sequence[ChainRow]], None] | None:
        """What `after_save` would write for these not yet stored events, derived now (outside
        any transaction), as a step for the group transaction that appends them: it adds the
        rows with the chain hashes they cover, in that transaction (ADR 0011). The newest rows
        below come from this process' memory of what it wrote last (a stale memory costs at
        most a redundant row or a missed one). None: nothing is due, or no key."""
        try:
            store = self.store()
            if store is None or not added:
                return None
            first = added[0].originator_version
            latest = self._latest.get(participant.id)
            if latest is None or latest[0] >= first:
                found = store.latest(participant.id, below=first)
                latest = (found.aggregate_version, found.outcome_key)
            due, after = self._due(participant, added, latest)
        except Exception:  # a snapshot is an optimisation, never a failure
            log.exception("snapshot_failed", stream=participant.id, version=participant.version)
            return None

        def write(cursor: Any, chain: Sequence[ChainRow]) -> None:
            # Under a savepoint: a snapshot that cannot be written never fails the events.
            cursor.execute("SAVEPOINT snapshots")
            try:
                covers = {row.version: row.event_hash for row in chain}
                store.insert(cursor, [replace(row, covers_hash=covers[row.version])
                                      for row in due if row.version in covers])
            except Exception:
                cursor.execute("ROLLBACK TO SAVEPOINT snapshots")
                log.exception("snapshot_failed", stream=participant.id,
                              version=participant.version)
            else:
                self._remember(participant.id, after)
            cursor.execute("RELEASE SAVEPOINT snapshots")

        return write if due else partial(self._skip, participant.id, after)

    def _skip(self, stream_id: str, after: tuple[int, str | None], *_: Any) -> None:
        self._remember(stream_id, after)

    def _remember(self, stream_id: str, after: tuple[int, str | None]) -> None:
        with self._guard:
            self._latest[stream_id] = after
            while len(self._latest) > REMEMBERED:
                self._latest.pop(next(iter(self._latest)))

    def _snapshot(self, participant: Participant, added: Sequence[Any]) -> None:
        store = self.store()
        if store is None:
            return
        first, last = added[0].originator_version, added[-1].originator_version
        latest = store.latest(participant.id, below=first)
        hashes = store.chain_hashes(participant.id, first, last)
        store.put(self._rows(participant, added, hashes,
                             (latest.aggregate_version, latest.outcome_key)))

    def _rows(self, participant: Participant, added: Sequence[Any], hashes: dict[int, bytes],
              latest: tuple[int, str | None]) -> list[SnapshotRow]:
        """The rows due at the versions `added` made that have a chain hash in `hashes`."""
        due, after = self._due(participant, added, latest)
        self._remember(participant.id, after)
        return [replace(row, covers_hash=hashes[row.version]) for row in due
                if row.version in hashes]

    def _due(self, participant: Participant, added: Sequence[Any],
             latest: tuple[int, str | None]
             ) -> tuple[list[SnapshotRow], tuple[int, str | None]]:
        """The rows due at the versions `added` made (`latest`: the newest aggregate row's
        version and outcome row's key below them), each still without the chain hash it
        covers, and the newest aggregate version and outcome key after them."""
        aggregate_at, key = latest
        rows: list[SnapshotRow] = []
        types = {event.originator_version: type(event).__name__ for event in added}
        for version, state in self._states(participant, added):
            if version - aggregate_at >= AGGREGATE_EVERY:
                rows.append(SnapshotRow(participant.id, version, AGGREGATE, b"",
                                        encode_participant(state)))
                aggregate_at = version
            if key is not None and types.get(version) not in OUTCOME_INPUT_TYPES:
                continue  # the outcome key cannot have changed
            index = EntryIndex(state)
            now = outcome_key(index)
            if now != key:
                views = outcome_views(participant_outcome(index), index)
                rows.append(SnapshotRow(participant.id, version, OUTCOME, b"",
                                        encode_views(views), now))
                key = now
        return rows, (aggregate_at, key)

    def _states(self, participant: Participant, added: Sequence[Any]
                ) -> Iterator[tuple[int, Participant]]:
        """The participant at each version the save added, one at a time (each state is
        changed into the next after it is yielded)."""
        if len(added) == 1:
            yield participant.version, participant
            return
        first = added[0].originator_version
        state = None
        if first > 1:
            before = self.load(participant.id, version=first - 1)
            assert before is not None, f"{participant.id} has no version {first - 1}"
            state = before.aggregate
        for event in added:
            state = event.mutate(state)
            yield event.originator_version, state

