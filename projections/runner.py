"""The projector: follows the log and applies each event to every read model exactly once.

Each batch runs in one transaction that first advances the tracking rows by compare-and-set
(position P -> Q) and then writes the rows for events P+1..Q. A second projector racing on
the same range finds the tracking row moved and rolls back; a projector killed mid-batch
leaves nothing of that batch behind. Either way every event is applied once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from sqlalchemy.engine import Connection, Engine

from domain.participant import Participant
from infra.ledger.store import LedgerStore
from projections import rows as fold
from projections.tables import (
    PROJECTION_TABLES,
    audit_feed,
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
        stored = self.store.stored_after(start, limit)
        if until is not None:
            stored = [row for row in stored if row.position <= until]
        if not stored:
            return BatchResult(0, start)
        end = stored[-1].position
        states = dict(self._states)
        chains = {c.position: c for c in self.store.chain_between(start, end)}
        try:
            with self.engine.begin() as conn:
                self._claim(conn, generation, start, end)
                self._apply_batch(conn, generation, stored, chains, states)
        except Superseded:
            self._states = {}
            return BatchResult(0, start)
        self._states = states
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

    def _apply_batch(self, conn: Connection, generation: int, stored: list[Any],
                     chains: dict[int, Any], states: dict[str, Any]) -> None:
        """Audit rows for every event; summaries and timelines once per participant, from its
        state after its last event in the batch (the same rows as event by event)."""
        audit_rows: list[dict[str, Any]] = []
        touched: dict[str, int] = {}
        rescanned: dict[str, int] = {}
        for row in stored:
            chain = chains.get(row.position)
            if chain is None:
                raise RuntimeError(f"event at position {row.position} has no chain row")
            event = self.ledger.mapper.to_domain_event(row.as_stored_event())
            before = self._state_before(row.stream_id, row.version, states)
            audit_rows.append({"generation": generation, **fold.audit_row(event, chain, before)})
            # Folded in place: `before` is this projector's own copy, dropped if the batch fails.
            states[row.stream_id] = event.mutate(before)
            if isinstance(event, Participant.Event):
                touched[row.stream_id] = row.position
                if type(event).__name__ in fold.TIMELINE_TYPES:
                    rescanned[row.stream_id] = row.position
        conn.execute(audit_feed.insert(), audit_rows)
        for participant_id, position in touched.items():
            participant = states[participant_id]
            conn.execute(participant_summaries.delete().where(
                participant_summaries.c.generation == generation,
                participant_summaries.c.participant_id == participant_id))
            conn.execute(participant_summaries.insert().values(
                generation=generation, **fold.summary_row(participant, position)))
        for participant_id, position in rescanned.items():
            conn.execute(response_timelines.delete().where(
                response_timelines.c.generation == generation,
                response_timelines.c.participant_id == participant_id))
            timeline = fold.timeline_rows(states[participant_id], position)
            if timeline:
                conn.execute(response_timelines.insert(),
                             [{"generation": generation, **r} for r in timeline])
