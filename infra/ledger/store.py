"""Read-side SQL over the event store and its chain (positions, hashes, idempotency keys)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from sqlalchemy.engine import Connection, Engine

from infra.tables import idempotency_keys, ledger_chain


@dataclass(frozen=True)
class ChainRow:
    leaf_index: int
    position: int
    stream_id: str
    version: int
    recorded_at: str
    prev_hash: bytes
    event_hash: bytes


@dataclass(frozen=True)
class StoredRow:
    position: int
    stream_id: str
    version: int
    topic: str
    state: bytes

    def as_stored_event(self) -> StoredEvent:
        return StoredEvent(self.stream_id, self.version, self.topic, self.state)


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    stream_id: str
    version: int


def _as_bytes(value: object) -> bytes:
    """Stored bytes as bytes, even where a hand edit left text or NULL in a blob column."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return bytes(cast(Any, value))


def _chain_row(row: sa.Row) -> ChainRow:  # type: ignore[type-arg]
    return ChainRow(
        leaf_index=row.leaf_index,
        position=row.position,
        stream_id=row.stream_id,
        version=row.version,
        recorded_at=row.recorded_at,
        prev_hash=_as_bytes(row.prev_hash),
        event_hash=_as_bytes(row.event_hash),
    )


class LedgerStore:
    """Queries the API, the verifier and the projections share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.position_column = "notification_id" if engine.dialect.name == "postgresql" else "rowid"

    def chain_for_stream(self, stream_id: str, *, up_to_version: int | None = None
                         ) -> list[ChainRow]:
        query = sa.select(ledger_chain).where(ledger_chain.c.stream_id == stream_id)
        if up_to_version is not None:
            query = query.where(ledger_chain.c.version <= up_to_version)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(ledger_chain.c.version)).all()
        return [_chain_row(r) for r in rows]

    def chain_at(self, position: int) -> ChainRow | None:
        query = sa.select(ledger_chain).where(ledger_chain.c.position == position)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _chain_row(row) if row else None

    def chain_between(self, after: int, last: int) -> list[ChainRow]:
        """Chain rows with `after` < position <= `last`, in position order."""
        query = sa.select(ledger_chain).where(ledger_chain.c.position > after,
                                              ledger_chain.c.position <= last)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(ledger_chain.c.position)).all()
        return [_chain_row(r) for r in rows]

    def chain_after(self, position: int) -> ChainRow | None:
        """The first chain row after `position`."""
        query = (sa.select(ledger_chain).where(ledger_chain.c.position > position)
                 .order_by(ledger_chain.c.position).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _chain_row(row) if row else None

    def chain_for_event(self, stream_id: str, version: int) -> ChainRow | None:
        query = sa.select(ledger_chain).where(
            ledger_chain.c.stream_id == stream_id, ledger_chain.c.version == version
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _chain_row(row) if row else None

    def version_as_of(self, stream_id: str, as_of: str) -> int:
        """The stream's last version recorded at or before `as_of` (0 = none yet)."""
        query = sa.select(sa.func.max(ledger_chain.c.version)).where(
            ledger_chain.c.stream_id == stream_id,
            ledger_chain.c.recorded_at <= as_of,
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def head(self) -> ChainRow | None:
        query = sa.select(ledger_chain).order_by(ledger_chain.c.leaf_index.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _chain_row(row) if row else None

    def first_recorded_at(self) -> str | None:
        """When the ledger's first event was recorded (None: nothing recorded yet)."""
        query = sa.select(ledger_chain.c.recorded_at).order_by(ledger_chain.c.leaf_index).limit(1)
        with self.engine.connect() as conn:
            first = conn.execute(query).scalar()
        return None if first is None else str(first)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(ledger_chain)).scalar()
                       or 0)

    def streams(self, topic_prefix: str, as_of: str | None = None) -> list[tuple[str, int]]:
        """(stream id, version) of streams whose first event's topic starts with the prefix."""
        first = sa.text(
            "SELECT originator_id FROM stored_events WHERE originator_version = 1 "
            "AND topic LIKE :prefix"
        ).bindparams(prefix=topic_prefix + "%")
        query = sa.select(ledger_chain.c.stream_id, sa.func.max(ledger_chain.c.version)).where(
            ledger_chain.c.stream_id.in_(first.columns(sa.column("originator_id")))
        )
        if as_of is not None:
            query = query.where(ledger_chain.c.recorded_at <= as_of)
        query = query.group_by(ledger_chain.c.stream_id).order_by(ledger_chain.c.stream_id)
        with self.engine.connect() as conn:
            return [(r[0], int(r[1])) for r in conn.execute(query)]

    def idempotency(self, username: str, key: str) -> IdempotencyRecord | None:
        query = sa.select(idempotency_keys).where(
            idempotency_keys.c.username == username, idempotency_keys.c.key == key
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return IdempotencyRecord(row.fingerprint, row.stream_id, row.version)

    def iter_chain(self, batch: int = 5000, after: int = -1) -> Iterator[ChainRow]:
        """Every chain row with leaf index > `after` in leaf order, fetched in batches (keyset
        paging)."""
        while True:
            query = (sa.select(ledger_chain).where(ledger_chain.c.leaf_index > after)
                     .order_by(ledger_chain.c.leaf_index).limit(batch))
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield _chain_row(row)
            after = rows[-1].leaf_index

    def stored_after(self, after: int, limit: int) -> list[StoredRow]:
        """Up to `limit` stored events with position > `after`, in position order."""
        col = self.position_column
        statement = sa.text(
            f"SELECT {col} AS position, originator_id, originator_version, topic, state "
            f"FROM stored_events WHERE {col} > :after ORDER BY {col} LIMIT :limit"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(statement, {"after": after, "limit": limit}).all()
        return [StoredRow(row.position, str(row.originator_id), int(row.originator_version),
                          str(row.topic), _as_bytes(row.state)) for row in rows]

    def max_position(self) -> int:
        col = self.position_column
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT max({col}) FROM stored_events")).scalar()
                       or 0)

    def iter_stored(self, batch: int = 5000, after: int = -1) -> Iterator[StoredRow]:
        """Every stored event with position > `after` in position order, fetched in batches
        (keyset paging)."""
        while True:
            rows = self.stored_after(after, batch)
            if not rows:
                return
            yield from rows
            after = rows[-1].position

    # -- raw pages: plain driver tuples, for the passes that read the whole log ---------------

    def chain_page(self, conn: Connection, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` chain rows with leaf index > `after`, in leaf order, as driver tuples
        (leaf_index, position, stream_id, version, recorded_at, prev_hash, event_hash).

        `recorded_at` is the canonical text (`format_recorded_at`): PostgreSQL formats it in
        the query, SQLite stores it. No value is converted: a hand-edited row may hold any
        type, and callers that need `ChainRow`'s conversions fall back to `iter_chain`."""
        return _fetch(conn, self._chain_page_sql, (after, limit))

    def stored_page(self, conn: Connection, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` stored events with position > `after`, in position order, as driver
        tuples (position, originator_id, originator_version, topic, state), unconverted."""
        return _fetch(conn, self._stored_page_sql, (after, limit))

    def events_page(self, conn: Connection, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` stored events with position > `after`, in position order, each with
        its chain row's stream id and recorded time (both None when it has no chain row), as
        driver tuples (position, originator_id, originator_version, topic, state,
        chain stream_id, recorded_at); `recorded_at` as in `chain_page`."""
        return _fetch(conn, self._events_page_sql, (after, limit))

    @property
    def _chain_page_sql(self) -> str:
        if self.engine.dialect.name == "postgresql":
            return ("SELECT leaf_index, position, stream_id, version, "
                    f"{_PG_RECORDED_AT.format('recorded_at')}, prev_hash, event_hash "
                    "FROM ledger_chain WHERE leaf_index > %s ORDER BY leaf_index LIMIT %s")
        return ("SELECT leaf_index, position, stream_id, version, recorded_at, prev_hash, "
                "event_hash FROM ledger_chain WHERE leaf_index > ? ORDER BY leaf_index LIMIT ?")

    @property
    def _stored_page_sql(self) -> str:
        col, mark = self.position_column, _mark(self.engine)
        return (f"SELECT {col}, originator_id, originator_version, topic, state "
                f"FROM stored_events WHERE {col} > {mark} ORDER BY {col} LIMIT {mark}")

    @property
    def _events_page_sql(self) -> str:
        col, mark = self.position_column, _mark(self.engine)
        recorded_at = (_PG_RECORDED_AT.format("c.recorded_at")
                       if self.engine.dialect.name == "postgresql" else "c.recorded_at")
        return (f"SELECT s.{col}, s.originator_id, s.originator_version, s.topic, s.state, "
                f"c.stream_id, {recorded_at} FROM stored_events s LEFT JOIN ledger_chain c "
                f"ON c.position = s.{col} WHERE s.{col} > {mark} ORDER BY s.{col} "
                f"LIMIT {mark}")


_PG_RECORDED_AT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
"""PostgreSQL's text of a `timestamptz` exactly as `format_recorded_at` writes it."""


def _mark(engine: Engine) -> str:
    return "%s" if engine.dialect.name == "postgresql" else "?"


def _fetch(conn: Connection, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them: no SQLAlchemy result processing per row."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()
