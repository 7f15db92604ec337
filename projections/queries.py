"""Reads over the projection tables (always the active generation), served from verified bytes.

The audit trail is read only: positions the projector has reached come from `audit_feed`
(which also gives each event's `changes`); later positions come straight from the log, so a
client sees its own writes at once without a read running the projector. Every entry's
who/what/when/why is taken from the stored event after its hash is checked
(projections/audit_trail.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from infra.ledger.store import ChainRow
from infra.tables import ledger_chain
from projections.audit_trail import FEED_FIELDS, Candidate, matches, verified_entries
from projections.runner import active_generation
from projections.tables import audit_feed, projection_positions

__all__ = ["FEED_FIELDS", "audit_page", "projected_position"]
BATCH = 200


def projected_position(engine: Engine) -> tuple[int, int]:
    """The active generation and how far its audit feed has been projected."""
    with engine.connect() as conn:
        generation = active_generation(conn)
        position = conn.execute(sa.select(projection_positions.c.position).where(
            projection_positions.c.name == "audit_feed",
            projection_positions.c.generation == generation)).scalar()
    return generation, int(position or 0)


def _chain(row: Any) -> ChainRow | None:
    if row.leaf_index is None:
        return None
    return ChainRow(int(row.leaf_index), int(row.chain_position), str(row.chain_stream_id),
                    int(row.chain_version), str(row.chain_recorded_at),
                    bytes(row.prev_hash), bytes(row.event_hash))


CHAIN_COLUMNS = (ledger_chain.c.leaf_index, ledger_chain.c.position.label("chain_position"),
                 ledger_chain.c.stream_id.label("chain_stream_id"),
                 ledger_chain.c.version.label("chain_version"),
                 ledger_chain.c.recorded_at.label("chain_recorded_at"),
                 ledger_chain.c.prev_hash, ledger_chain.c.event_hash)


def _projected(engine: Engine, generation: int, after: int, last: int, batch: int,
               participant_id: str | None, user: str | None, as_of: str | None,
               sites: tuple[str, ...] | None) -> list[Candidate]:
    """Read-model rows after `after` up to `last`; filters on the chain's own columns where
    the chain has them (participant, recorded time), else on the read model's."""
    stream = sa.func.coalesce(ledger_chain.c.stream_id, audit_feed.c.stream_id)
    recorded = sa.func.coalesce(ledger_chain.c.recorded_at, audit_feed.c.recorded_at)
    query = (sa.select(audit_feed, *CHAIN_COLUMNS)
             .select_from(audit_feed.outerjoin(
                 ledger_chain, ledger_chain.c.position == audit_feed.c.position))
             .where(audit_feed.c.generation == generation, audit_feed.c.position > after,
                    audit_feed.c.position <= last))
    if participant_id is not None:
        query = query.where(stream == participant_id)
    if user is not None:
        query = query.where(audit_feed.c.recorded_by == user)
    if as_of is not None:
        query = query.where(recorded <= as_of)
    if sites is not None:
        query = query.where(audit_feed.c.site_id.in_(sites))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_feed.c.position).limit(batch)).all()
    return [Candidate(int(r.position), _chain(r),
                      {**{f: getattr(r, f) for f in FEED_FIELDS}, "changes": r.changes})
            for r in rows]


def _unprojected(engine: Engine, after: int, batch: int, participant_id: str | None,
                 as_of: str | None) -> list[Candidate]:
    """Chain rows after `after` (beyond the projector): read from the log itself."""
    query = sa.select(*CHAIN_COLUMNS).where(ledger_chain.c.position > after)
    if participant_id is not None:
        query = query.where(ledger_chain.c.stream_id == participant_id)
    if as_of is not None:
        query = query.where(ledger_chain.c.recorded_at <= as_of)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(ledger_chain.c.position).limit(batch)).all()
    return [Candidate(int(r.chain_position), _chain(r), None) for r in rows]


def _candidates(engine: Engine, after: int, batch: int, **filters: Any
                ) -> Iterator[list[Candidate]]:
    generation, projected = projected_position(engine)
    cursor = after
    while cursor < projected:
        found = _projected(engine, generation, cursor, projected, batch, **filters)
        if not found:
            break
        yield found
        cursor = found[-1].position
    cursor = max(cursor, projected)
    while True:
        found = _unprojected(engine, cursor, batch, filters["participant_id"], filters["as_of"])
        if not found:
            return
        yield found
        cursor = found[-1].position


def audit_page(ledger: Any, engine: Engine, *, after: int, limit: int,
               participant_id: str | None = None, user: str | None = None,
               as_of: str | None = None, sites: tuple[str, ...] | None = None
               ) -> dict[str, Any]:
    """One page of the audit trail after position `after`, and where the next page starts."""
    filters = {"participant_id": participant_id, "user": user, "as_of": as_of, "sites": sites}
    entries: list[dict[str, Any]] = []
    next_after = after
    for batch in _candidates(engine, after, min(limit, BATCH), **filters):
        for candidate, entry in zip(batch, verified_entries(ledger, engine, batch), strict=True):
            next_after = candidate.position
            if matches(entry, **filters):
                entries.append(entry)
                if len(entries) == limit:
                    return {"entries": entries, "next_after": next_after}
    return {"entries": entries, "next_after": next_after}
