"""The reactions runner: follows the log and hands each new event to every reaction.

Like the projector (projections/runner.py) it reads the events after its tracked position,
in position order; unlike it, what it writes goes into the ledger itself (system queries,
withdrawn verification marks), through the reactions of services/monitoring/policies.py. Its
position (`reaction_positions`, migration 0009) moves by compare-and-set after each batch:
a runner that finds it moved by another drops its batch. A crash between a reaction's write
and the position's update means the event is seen again, which every reaction survives.

`trial-ledger serve` runs it in a background thread beside the projector
(projections/worker.py); `run_reactions` runs it to the head, synchronously (tests, CLI).
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import IntegrityError, StoredEvent
from sqlalchemy.engine import Engine

from domain.errors import RuleViolation
from infra.logging import get_logger
from services.application import TrialLedger
from services.monitoring.policies import REACTIONS
from services.monitoring.seen import Reaction, SeenEvent

log = get_logger("trial_ledger.reactions")
TRANSIENT: tuple[type[Exception], ...] = (sa.exc.SQLAlchemyError, IntegrityError)
"""Failures of the store: the event is tried again later (so is `update_stream`'s
write_contention, a RuleViolation that many concurrent writers cause)."""


def _transient(error: Exception) -> bool:
    return isinstance(error, TRANSIENT) or (
        isinstance(error, RuleViolation) and error.rule == "write_contention")
FOLLOWER = "reactions"
MAX_CACHED_STREAMS = 2000

metadata = sa.MetaData()
reaction_positions = sa.Table(
    "reaction_positions", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


class ReactionRunner:
    """Hands every event after its position to `reactions`, batch by batch."""

    def __init__(self, ledger: TrialLedger, engine: Engine,
                 reactions: tuple[Reaction, ...] = REACTIONS, name: str = FOLLOWER) -> None:
        self.ledger, self.engine, self.reactions, self.name = ledger, engine, reactions, name
        self._states: dict[str, Any] = {}

    def position(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(reaction_positions.c.position).where(
                reaction_positions.c.name == self.name)).scalar()
        return int(value or 0)

    def _advance(self, start: int, end: int) -> bool:
        """Move the position from `start` to `end`; False if another runner moved it."""
        with self.engine.begin() as conn:
            if start == 0:
                exists = conn.execute(sa.select(reaction_positions.c.name).where(
                    reaction_positions.c.name == self.name)).first()
                if exists is None:
                    conn.execute(reaction_positions.insert().values(name=self.name, position=0))
            moved = conn.execute(reaction_positions.update().where(
                reaction_positions.c.name == self.name,
                reaction_positions.c.position == start).values(position=end)).rowcount
        return moved == 1

    def _state_after(self, stream_id: str, version: int, event: Any) -> Any:
        """The stream's aggregate after `version`: the cached one folded forward by this
        event, or the stream read up to it."""
        cached = self._states.get(stream_id)
        if cached is not None and cached.version == version:
            return cached
        if version == 1:
            state = event.mutate(None)
        elif cached is not None and cached.version == version - 1:
            state = event.mutate(cached)
        else:
            state = self.ledger.repository.get(stream_id, version=version)
        if len(self._states) >= MAX_CACHED_STREAMS:
            self._states.clear()
        self._states[stream_id] = state
        return state

    def run_batch(self, limit: int = 200) -> int:
        """React to up to `limit` events after the position; how many were handled (0: none
        new, or another runner claimed them first).

        A failure of the store (a database error, write contention) ends the batch at the
        event before, which is kept, and is raised after the position moves: the event is
        tried again. Any other error is the event's own (data a reaction cannot read): retrying
        would fail the same way and stop every later event from being seen, so it is logged
        with the event's position (`reaction_failed_on_event`) and the runner goes on."""
        start = self.position()
        rows = self.ledger.store.stored_after(start, limit)
        end, failure = start, None
        for row in rows:
            try:
                self._react(row)
            except Exception as error:
                if not _transient(error):
                    raise
                log.error("reaction_failed", position=row.position, stream=row.stream_id,
                          error_type=type(error).__name__, error=str(error))
                self._states.pop(row.stream_id, None)
                failure = error
                break
            end = row.position
        handled = 0
        if end > start:
            if self._advance(start, end):
                handled = sum(1 for row in rows if row.position <= end)
            else:
                self._states.clear()
        if failure is not None:
            raise failure
        return handled

    def _react(self, row: Any) -> None:
        event = self.ledger.mapper.to_domain_event(
            StoredEvent(row.stream_id, row.version, row.topic, row.state))
        seen = SeenEvent(row.stream_id, row.version, row.position, event,
                         partial(self._state_after, row.stream_id, row.version, event))
        for reaction in self.reactions:
            try:
                reaction(self.ledger, seen)
            except Exception as error:  # the event's own unless transient: logged, not retried
                if _transient(error):
                    raise
                log.error("reaction_failed_on_event", position=row.position,
                          stream=row.stream_id, reaction=getattr(reaction, "__name__", "?"),
                          error_type=type(error).__name__, error=str(error))
                self._states.pop(row.stream_id, None)

    def catch_up(self, limit: int = 200) -> int:
        """React to everything recorded so far, including what the reactions record; how many
        events were handled."""
        total = 0
        while True:
            handled = self.run_batch(limit)
            if handled == 0 and not self.ledger.store.stored_after(self.position(), 1):
                return total
            total += handled


def run_reactions(ledger: TrialLedger, engine: Engine) -> int:
    """Run every reaction over the log up to its head, now; how many events were handled."""
    return ReactionRunner(ledger, engine).catch_up()


def follow(runner: ReactionRunner, stop: threading.Event, *, interval: float = 1.0,
           batch: int = 200) -> None:
    """Run batches until `stop` is set; idle polls every `interval` seconds. A failing batch
    is logged (by `run_batch`) and retried after `interval`."""
    while not stop.is_set():
        try:
            if runner.run_batch(batch) == 0:
                stop.wait(interval)
        except Exception:  # noqa: BLE001 - the worker thread must outlive a bad batch
            stop.wait(interval)
