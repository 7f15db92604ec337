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
from sqlalchemy.engine import Connection, Engine

from infra.ledger.store import ChainRow
from infra.tables import ledger_chain
from projections.audit_trail import FEED_FIELDS, Candidate, connected, matches, verified_entries
from projections.runner import active_generation
from projections.tables import audit_feed, projection_positions

__all__ = ["FEED_FIELDS", "audit_page", "projected_position"]
BATCH = 200


def projected_position(engine: Engine | Connection) -> tuple[int, int]:
    """The active generation and how far its audit feed has been projected."""
    with connected(engine) as conn:
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


def _projected(engine: Engine | Connection, generation: int, after: int, last: int, batch: int,
               participant_id: str | None, user: str | None, as_of: str | None,
               sites: tuple[str, ...] | None) -> list[Candidate]:
    """Read-model rows after `after` up to `last`; filters on the chain's own columns where
    the chain has them (participant, recorded time), else on the read model's."""
    stream = sa.func.coalesce(ledger_chain.c.stream_id, audit_feed.c.stream_id)
    recorded = sa.func.coalesce(ledger_chain.c.recorded_at, audit_feed.c.recorded_at)
    query = (sa.select(audit_feed, *CHAIN_COLUMNS)
             .select_from(audit_feed.outerjoin(
                 ledger_chain, ledger_chain.c.position == audit_feed.c.position))
             .where(audit_feed.c.generation == generation))
    if participant_id is None:
        query = query.where(audit_feed.c.position > after, audit_feed.c.position <= last)
    else:
        # Only this stream's positions in (after, last], found by index (the chain's
        # (stream_id, version), the read model's (generation, stream_id, position)), are
        # looked up: a superset of the rows the filter below keeps, without a range scan of
        # the whole feed.
        query = query.where(
            audit_feed.c.position.in_(_stream_positions(generation, after, last,
                                                        participant_id)),
            stream == participant_id)
    if user is not None:
        query = query.where(audit_feed.c.recorded_by == user)
    if as_of is not None:
        query = query.where(recorded <= as_of)
    if sites is not None:
        query = query.where(audit_feed.c.site_id.in_(sites))
    with connected(engine) as conn:
        rows = conn.execute(query.order_by(audit_feed.c.position).limit(batch)).all()
    return [Candidate(int(r.position), _chain(r),
                      {**{f: getattr(r, f) for f in FEED_FIELDS}, "changes": r.changes})
            for r in rows]


def _stream_positions(generation: int, after: int, last: int, stream_id: str
                      ) -> sa.CompoundSelect:
    """Positions in (after, last] whose chain row names `stream_id`, or whose read-model row
    does (the filter on the joined rows then decides which of the two counts)."""
    # Aliases: the outer query joins the same tables, which must not be correlated in.
    chain, feed = ledger_chain.alias("stream_chain"), audit_feed.alias("stream_feed")
    chained = sa.select(chain.c.position.label("position")).where(
        chain.c.stream_id == stream_id, chain.c.position > after, chain.c.position <= last)
    fed = sa.select(feed.c.position.label("position")).where(
        feed.c.generation == generation, feed.c.stream_id == stream_id,
        feed.c.position > after, feed.c.position <= last)
    return sa.union(chained, fed)


def _unprojected(engine: Engine | Connection, after: int, batch: int, participant_id: str | None,
                 as_of: str | None) -> list[Candidate]:
    """Chain rows after `after` (beyond the projector): read from the log itself."""
    query = sa.select(*CHAIN_COLUMNS).where(ledger_chain.c.position > after)
    if participant_id is not None:
        query = query.where(ledger_chain.c.stream_id == participant_id)
    if as_of is not None:
        query = query.where(ledger_chain.c.recorded_at <= as_of)
    with connected(engine) as conn:
        rows = conn.execute(query.order_by(ledger_chain.c.position).limit(batch)).all()
    return [Candidate(int(r.chain_position), _chain(r), None) for r in rows]


def _candidates(engine: Engine | Connection, after: int, batch: int, **filters: Any
                ) -> Iterator[list[Candidate]]:
    generation, projected = projected_position(engine)
    cursor = after
    while cursor < projected:
        found = _projected(engine, generation, cursor, projected, batch, **filters)
        if not found:
            break
        yield found
        cursor = found[-1].position
        if len(found) < batch:  # the projected range holds no more matching rows
            break
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
    with engine.connect() as conn:  # one checkout for every query of the page
        for batch in _candidates(conn, after, min(limit, BATCH), **filters):
            for candidate, entry in zip(batch, verified_entries(ledger, conn, batch),
                                        strict=True):
                next_after = candidate.position
                if matches(entry, **filters):
                    entries.append(entry)
                    if len(entries) == limit:
                        return {"entries": entries, "next_after": next_after}
    return {"entries": entries, "next_after": next_after}


PARTICIPANT_LIST_SQL = """
SELECT participant_id, site_id, status, version, 0 AS changed
FROM participant_summaries
WHERE generation = :generation AND participant_id NOT IN :changed
UNION ALL
SELECT originator_id, NULL, NULL, NULL, 1
FROM stored_events
WHERE originator_id IN :changed AND originator_version = 1 AND topic LIKE :prefix
ORDER BY 1
"""
LIST_ATTEMPTS = 5


def _summaries_position(conn: Connection) -> tuple[int, int]:
    generation = active_generation(conn)
    position = conn.execute(sa.select(projection_positions.c.position).where(
        projection_positions.c.name == "participant_summaries",
        projection_positions.c.generation == generation)).scalar()
    return generation, int(position or 0)


def participant_list(engine: Engine, topic_prefix: str
                     ) -> list[tuple[str, Any, Any, Any, bool]] | None:
    """Every participant, in stream id order: (participant_id, site_id, status, version,
    changed). Rows come from the active `participant_summaries`; a participant whose stream
    has events after the projector's position comes with `changed` and no values (fold it
    from the log).

    The generation and its position are read first, then the streams with chain rows after
    that position (an index range), then the rows; they are kept only if that generation is
    still the active one afterwards: a generation is replaced for good and its rows deleted
    only then, and its position only moves forward with its rows, so a row read later than
    the position is of a later state, never an earlier one. None if a rebuild kept switching
    generations."""
    statement = sa.text(PARTICIPANT_LIST_SQL).bindparams(
        sa.bindparam("changed", expanding=True, type_=sa.Text))
    with engine.connect() as conn:
        for _ in range(LIST_ATTEMPTS):
            generation, position = _summaries_position(conn)
            changed = sorted(set(conn.execute(
                sa.select(ledger_chain.c.stream_id).where(ledger_chain.c.position > position)
            ).scalars()))
            rows = conn.execute(statement, {"generation": generation, "changed": changed,
                                            "prefix": topic_prefix + "%"}).all()
            if active_generation(conn) == generation:
                return [(str(r[0]), r[1], r[2], r[3], bool(r[4])) for r in rows]
            conn.rollback()
    return None
