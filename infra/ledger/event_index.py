"""The event id index: which ledger position holds the event with a given `event_id`.

`ledger_event_ids(event_id, position)` is written by the chained recorder in the same insert
transaction as the events and their chain rows (infra/event_store.py), append-only like them,
and back-filled by Alembic revision 0005 from the events stored before it. A look-up is one
primary-key probe plus the stored event and chain row at that position. The index only says
where to look: the stored bytes at that position must carry the asked `event_id` and the chain
row must name that position, so a wrong index row can make a proof fail, never prove another
event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from sqlalchemy.engine import Engine

from infra.ledger.merkle_store import EventLeaf

metadata = sa.MetaData()
ledger_event_ids = sa.Table(
    "ledger_event_ids",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

INSERT_SQL = {
    # The first event recorded with an id keeps it, as the scan of the stored bytes chose the
    # first leaf carrying it.
    "sqlite": "INSERT INTO ledger_event_ids (event_id, position) VALUES (?, ?) "
              "ON CONFLICT DO NOTHING",
    "postgresql": "INSERT INTO ledger_event_ids (event_id, position) VALUES (%s, %s) "
                  "ON CONFLICT DO NOTHING",
}


class EventIndexMismatch(RuntimeError):
    """The index names a position whose stored event or chain row is not the asked event."""


def event_id_of(state: bytes | bytearray | memoryview | str | None) -> str | None:
    """The `event_id` a stored event's state carries (None: not a JSON object with one)."""
    if state is None:
        return None
    try:
        decoded = json.loads(bytes(state) if not isinstance(state, str) else state)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(decoded, dict):
        return None
    event_id = decoded.get("event_id")
    return event_id if isinstance(event_id, str) else None


def index_rows(stored_events: Sequence[StoredEvent], positions: Iterable[int]
               ) -> list[tuple[str, int]]:
    """(event_id, position) for each stored event that carries an event id."""
    rows = []
    for stored, position in zip(stored_events, positions, strict=True):
        event_id = event_id_of(stored.state)
        if event_id is not None:
            rows.append((event_id, int(position)))
    return rows


def _lookup_sql(engine: Engine) -> str:
    col = "notification_id" if engine.dialect.name == "postgresql" else "rowid"
    return ("SELECT i.position, s.state, c.leaf_index, c.stream_id, c.version, "
            "c.position AS chain_position FROM ledger_event_ids i "
            f"LEFT JOIN stored_events s ON s.{col} = i.position "
            "LEFT JOIN ledger_chain c ON c.stream_id = s.originator_id "
            "AND c.version = s.originator_version "
            "WHERE i.event_id = :event_id")


def indexed_position(engine: Engine, event_id: str) -> int | None:
    """The position the index names for `event_id`, unchecked (None: not indexed)."""
    query = sa.select(ledger_event_ids.c.position).where(
        ledger_event_ids.c.event_id == event_id)
    with engine.connect() as conn:
        position = conn.execute(query).scalar()
    return None if position is None else int(position)


def find_indexed_event(engine: Engine, event_id: str) -> EventLeaf | None:
    """The leaf of the event with this `event_id`, found through the index and checked
    against the stored bytes and the chain row at the indexed position.

    None when the index has no such event id; `EventIndexMismatch` when it names a position
    whose stored event does not carry that id, or whose chain row is missing or elsewhere."""
    with engine.connect() as conn:
        row: Any = conn.execute(sa.text(_lookup_sql(engine)), {"event_id": event_id}).first()
    if row is None:
        return None
    position = int(row.position)
    if row.state is None:
        raise EventIndexMismatch(
            f"the event id index names position {position} for event {event_id}, but no "
            "event is stored there")
    if event_id_of(row.state) != event_id:
        raise EventIndexMismatch(
            f"the event id index names position {position} for event {event_id}, but the "
            "event stored there carries another event id")
    if row.leaf_index is None or int(row.chain_position) != position:
        raise EventIndexMismatch(
            f"the chain row of event {event_id} (position {position}) is missing or names "
            "another position")
    return EventLeaf(event_id, int(row.leaf_index), str(row.stream_id), int(row.version),
                     position)
