"""The projector: follows the log and applies each event to every read model exactly once.

Each batch runs in one transaction that first advances the tracking rows by compare-and-set
(position P -> Q) and then writes the rows for events P+1..Q. A second projector racing on
the same range finds the tracking row moved and rolls back; a projector killed mid-batch
leaves nothing of that batch behind. Either way every event is applied once. A batch's rows
are derived before its transaction begins and written in bulk inside it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import StoredEvent
from sqlalchemy.engine import Connection, Engine

from domain.participant import Participant
from domain.text import storable
from infra.ledger.chain import format_recorded_at
from infra.ledger.store import LedgerStore
from projections import rows as fold
from projections.outcome_projection import OUTCOME_VALUES, Carried, carry
from projections.tables import (
    CURRENT,
    PROJECTION_TABLES,
    audit_feed,
    participant_outcomes,
    participant_summaries,
    projection_active,
    projection_positions,
    response_timelines,
)

NAMES = tuple(PROJECTION_TABLES)


class Superseded(Exception):
    """Another projector advanced the tracking rows first; this batch is discarded."""


@dataclass
class BatchResult:
    applied: int
    position: int


def active_generation(conn: Connection) -> int:
    """The generation readers see (migration 0003 starts generation 1 at position 0)."""
    generation = conn.execute(
        sa.select(projection_active.c.generation).where(projection_active.c.name == NAMES[0])
    ).scalar()
    return int(generation) if generation is not None else 1


def ensure_generation(engine: Engine, generation: int) -> None:
    """Tracking rows at position 0 for a generation being built (not yet read by anyone)."""
    with engine.begin() as conn:
        for name in NAMES:
            exists = conn.execute(sa.select(projection_positions.c.position).where(
                projection_positions.c.name == name,
                projection_positions.c.generation == generation)).first()
            if exists is None:
                conn.execute(projection_positions.insert().values(
                    name=name, generation=generation, position=0))


class Projector:
    """Applies the log to one generation of every projection."""

    def __init__(self, ledger: Any, engine: Engine, generation: int | None = None,
                 target: Engine | None = None) -> None:
        """Reads the log from `engine`; writes the read models to `target` (default: the same
        store; a scratch database when checking the live read models)."""
        self.ledger = ledger
        self.engine = target or engine
        self.store = LedgerStore(engine)
        self.fixed_generation = generation
        self._states: dict[str, Any] = {}
        self._facts: dict[str, Carried] = {}
        """Per participant: its outcome state after its last projected event."""

    def generation(self) -> int:
        if self.fixed_generation is not None:
            return self.fixed_generation
        with self.engine.connect() as conn:
            return active_generation(conn)

    def position(self, generation: int) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.min(projection_positions.c.position)).where(
                projection_positions.c.generation == generation)).scalar()
        return int(value or 0)

    def run_batch(self, limit: int = 500, until: int | None = None) -> BatchResult:
        """Apply up to `limit` events after the tracked position (and at or before `until`),
        in one transaction."""
        generation = self.generation()
        start = self.position(generation)
        with self.store.engine.connect() as conn:
            stored = self.store.events_page(conn, start, limit)
        if until is not None:
            stored = [row for row in stored if row[0] <= until]
        if not stored:
            return BatchResult(0, start)
        end = stored[-1][0]
        states, facts = dict(self._states), dict(self._facts)
        # Rows are derived before the transaction, so it holds the store's write lock (all of
        # SQLite, the tracking rows on PostgreSQL) only for the claim and the bulk writes.
        rows = self._batch_rows(generation, stored, states, facts)
        try:
            with self.engine.begin() as conn:
                self._claim(conn, generation, start, end)
                rows.write(conn)
        except Superseded:
            self._states, self._facts = {}, {}
            return BatchResult(0, start)
        self._states, self._facts = states, facts
        return BatchResult(len(stored), end)

    def catch_up(self, limit: int = 500, progress: Callable[[int], None] | None = None,
                 until: int | None = None) -> int:
        """Apply everything recorded so far (or up to position `until`); returns how many
        events were applied."""
        total = 0
        while True:
            result = self.run_batch(limit, until)
            if result.applied == 0:
                following = self.store.stored_after(self.position(self.generation()), 1)
                if not following or (until is not None and following[0].position > until):
                    return total
                continue
            total += result.applied
            if progress:
                progress(result.applied)

    def run_forever(self, interval: float = 1.0, should_stop: Callable[[], bool] = lambda: False
                    ) -> None:
        while not should_stop():
            if self.run_batch().applied == 0:
                time.sleep(interval)

    def _claim(self, conn: Connection, generation: int, start: int, end: int) -> None:
        claimed = conn.execute(
            projection_positions.update()
            .where(projection_positions.c.generation == generation,
                   projection_positions.c.position == start)
            .values(position=end)
        ).rowcount
        if claimed != len(NAMES):
            raise Superseded

    def _state_before(self, stream_id: str, version: int, states: dict[str, Any]) -> Any:
        """The stream's aggregate (participant, account, study) just before `version`."""
        if version == 1:
            return None
        cached = states.get(stream_id)
        if cached is not None and cached.version == version - 1:
            return cached
        try:
            before = self.ledger.repository.get(stream_id, version=version - 1)
        except AggregateNotFoundError:
            return None
        return before

    def _batch_rows(self, generation: int, stored: list[tuple[Any, ...]],
                    states: dict[str, Any], facts: dict[str, Any]) -> _BatchRows:
        """Audit rows for every event; summaries and timelines once per participant, from its
        state after its last event in the batch (the same rows as event by event).

        `stored`: `LedgerStore.events_page` rows. Each event is decoded and folded once, onto
        the stream's state kept from the event before (in `states`)."""
        to_domain_event = self.ledger.mapper.to_domain_event
        participant_event = Participant.Event
        timeline_types = fold.TIMELINE_TYPES
        rows = _BatchRows(generation)
        touched: dict[str, int] = {}
        rescanned: dict[str, int] = {}
        for position, stream, version, topic, state, chain_stream, recorded_at in stored:
            if recorded_at is None:
                raise RuntimeError(f"event at position {position} has no chain row")
            stream_id, version = str(stream), int(version)
            event = to_domain_event(StoredEvent(stream_id, version, str(topic), _as_bytes(state)))
            before = self._state_before(stream_id, version, states)
            rows.audit.append((generation, *fold.audit_values(
                event, position, chain_stream, _recorded_at(recorded_at), before)))
            # Folded in place: `before` is this projector's own copy, dropped if the batch fails.
            states[stream_id] = event.mutate(before)
            if isinstance(event, participant_event):
                touched[stream_id] = position
                carried = carry(facts.get(stream_id), states[stream_id], type(event).__name__,
                                event.event_id)
                facts[stream_id] = carried
                rows.outcomes.append((storable(stream_id), position, carried.values))
                if type(event).__name__ in timeline_types:
                    rescanned[stream_id] = position
        rows.summarised = list(touched)
        rows.summaries = [
            _values(fold.summary_row(states[pid], position), SUMMARY_COLUMNS, generation)
            for pid, position in touched.items()]
        rows.rescanned = list(rescanned)
        rows.timelines = [
            _values(row, TIMELINE_COLUMNS, generation)
            for pid, position in rescanned.items()
            for row in fold.timeline_rows(states[pid], position)]
        return rows


AUDIT_COLUMNS = ("generation", *fold.AUDIT_COLUMNS)
SUMMARY_COLUMNS = tuple(c.name for c in participant_summaries.columns)
TIMELINE_COLUMNS = tuple(c.name for c in response_timelines.columns)
OUTCOME_COLUMNS = ("generation", "participant_id", "from_position", "to_position",
                   *OUTCOME_VALUES)


def _values(row: dict[str, Any], columns: tuple[str, ...], generation: int) -> tuple[Any, ...]:
    return tuple(generation if name == "generation" else row[name] for name in columns)


def _as_bytes(value: object) -> bytes:
    """Stored bytes as bytes, even where a hand edit left text or NULL in a blob column."""
    if type(value) is bytes:
        return value
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return bytes(cast(Any, value))


def _recorded_at(value: object) -> str:
    """A chain row's recorded time as `ChainRow.recorded_at` holds it (`events_page` gives
    PostgreSQL's already formatted)."""
    if type(value) is str:
        return value
    return format_recorded_at(value) if isinstance(value, datetime) else str(value)


@dataclass
class _BatchRows:
    """What one batch writes: audit rows, and the participants whose summary and timeline
    rows are replaced, with their new rows (tuples in the tables' column order)."""

    generation: int
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    summarised: list[str] = field(default_factory=list)
    summaries: list[tuple[Any, ...]] = field(default_factory=list)
    rescanned: list[str] = field(default_factory=list)
    timelines: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[tuple[str, int, tuple[Any, ...]]] = field(default_factory=list)
    """(participant, from position, values) of new `participant_outcomes` rows, in order."""

    def outcome_rows(self) -> tuple[list[tuple[int, str]], list[tuple[Any, ...]]]:
        """(position, participant) closing each participant's current stored row, and the new
        rows, each open until the participant's next new row."""
        closing: dict[str, int] = {}
        following: dict[str, int] = {}
        new: list[tuple[Any, ...]] = []
        for pid, position, values in reversed(self.outcomes):
            new.append((self.generation, pid, position, following.get(pid, CURRENT), *values))
            following[pid] = position
            closing[pid] = position
        new.reverse()
        return [(position, pid) for pid, position in closing.items()], new

    def write(self, conn: Connection) -> None:
        writer = _Writer(conn, self.generation)
        writer.insert(audit_feed, AUDIT_COLUMNS, self.audit)
        writer.replace(participant_summaries, SUMMARY_COLUMNS, self.summarised, self.summaries)
        writer.replace(response_timelines, TIMELINE_COLUMNS, self.rescanned, self.timelines)
        closing, new = self.outcome_rows()
        writer.close_current(closing)
        writer.insert(participant_outcomes, OUTCOME_COLUMNS, new)


class _Writer:
    """Bulk writes of read-model rows inside the batch's transaction, through the driver:
    COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, conn: Connection, generation: int) -> None:
        self.conn, self.generation = conn, generation
        self.postgres = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.postgres else "?"

    def _cursor(self) -> Any:
        return self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def insert(self, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
               ) -> None:
        if not rows:
            return
        names = ", ".join(columns)
        with contextlib.closing(self._cursor()) as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(self.mark for _ in columns)
                cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)

    def close_current(self, closing: list[tuple[int, str]]) -> None:
        """Each participant's current `participant_outcomes` row ends at the given position."""
        if not closing:
            return
        mark = self.mark
        with contextlib.closing(self._cursor()) as cursor:
            cursor.executemany(
                f"UPDATE participant_outcomes SET to_position = {mark} WHERE generation = {mark} "
                f"AND participant_id = {mark} AND to_position = {CURRENT}",
                [(position, self.generation, pid) for position, pid in closing])

    def replace(self, table: sa.Table, columns: tuple[str, ...], participants: list[str],
                rows: list[tuple[Any, ...]]) -> None:
        """Every row of these participants in this generation replaced by `rows`."""
        if not participants:
            return
        with contextlib.closing(self._cursor()) as cursor:
            cursor.executemany(
                f"DELETE FROM {table.name} WHERE generation = {self.mark} "
                f"AND participant_id = {self.mark}",
                [(self.generation, pid) for pid in participants])
        self.insert(table, columns, rows)
