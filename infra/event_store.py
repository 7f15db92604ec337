"""The eventsourcing library's recorders, extended to write the hash chain in the same transaction.

Each insert of stored events (under the store's write lock: SQLite's database lock, an
advisory transaction lock on PostgreSQL) also writes one `ledger_chain`
row per event: leaf index, position, stream, version, `recorded_at` from the database clock
(forced strictly monotonic) and the SHA-256 link over the stored bytes, and one
`ledger_event_ids` row (event id -> position, infra/ledger/event_index.py). An optional
idempotency row is written in the same transaction, so a retried request can never append twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Literal

from infra.ledger.chain import (
    GENESIS_HASH,
    ChainedRecord,
    format_recorded_at,
    link_hash,
    parse_recorded_at,
)
from infra.ledger.event_index import INSERT_SQL as EVENT_ID_INSERT
from infra.ledger.event_index import index_rows

ONE_MICROSECOND = timedelta(microseconds=1)
# "trlwrite": the transaction-scoped advisory lock that serialises event inserts on PostgreSQL
# (distinct from infra.ledger.merkle_store.SYNC_LOCK_KEY, "trlmerkl").
WRITE_LOCK_KEY = 0x74726C7772697465


@dataclass(frozen=True)
class IdempotencyClaim:
    """A client's Idempotency-Key, claimed by the transaction that stores its events."""

    username: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class ChainTip:
    leaf_index: int
    recorded_at: datetime
    event_hash: bytes


def build_chain_rows(
    tip: ChainTip | None,
    db_now: datetime,
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
) -> list[tuple[int, int, str, int, str, bytes, bytes]]:
    """Chain rows for a batch: (leaf_index, position, stream, version, recorded_at, prev, hash)."""
    prev_hash = tip.event_hash if tip else GENESIS_HASH
    next_leaf = tip.leaf_index + 1 if tip else 0
    recorded_at = db_now if tip is None else max(db_now, tip.recorded_at + ONE_MICROSECOND)
    rows = []
    for offset, (stored, position) in enumerate(zip(stored_events, positions, strict=True)):
        moment = recorded_at + offset * ONE_MICROSECOND
        record = ChainedRecord(
            leaf_index=next_leaf + offset,
            position=position,
            stream_id=str(stored.originator_id),
            version=stored.originator_version,
            topic=stored.topic,
            recorded_at=format_recorded_at(moment),
            state=stored.state,
        )
        event_hash = link_hash(prev_hash, record)
        rows.append(
            (
                record.leaf_index,
                position,
                record.stream_id,
                record.version,
                record.recorded_at,
                prev_hash,
                event_hash,
            )
        )
        prev_hash = event_hash
    return rows


TIP_SQL = {
    "sqlite": "SELECT leaf_index, recorded_at, event_hash, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
              "FROM (SELECT 1) AS one LEFT JOIN (SELECT * FROM ledger_chain "
              "ORDER BY leaf_index DESC LIMIT 1) AS tip ON 1",
    "postgresql": "SELECT leaf_index, recorded_at, event_hash, clock_timestamp() "
                  "FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT * FROM ledger_chain "
                  "ORDER BY leaf_index DESC LIMIT 1) AS tip ON true",
}


def read_chain_tip(cursor: Any, dialect: str) -> tuple[ChainTip | None, datetime]:
    """The chain's last leaf (None: empty) and the database clock, in one statement; called
    inside the write lock, so no other leaf can follow the tip before this transaction's."""
    cursor.execute(TIP_SQL[dialect])
    row = cursor.fetchone()
    if isinstance(row, dict):  # the library's PostgreSQL cursors return dict rows
        row = tuple(row.values())
    leaf_index, recorded_at, event_hash, db_now = row
    if isinstance(db_now, str):
        db_now = parse_recorded_at(db_now)
    if leaf_index is None:
        return None, db_now
    if isinstance(recorded_at, str):
        recorded_at = parse_recorded_at(recorded_at)
    return ChainTip(int(leaf_index), recorded_at, bytes(event_hash)), db_now


def _idempotency_row(
    claim: IdempotencyClaim | None, stored_events: Sequence[StoredEvent]
) -> tuple[str, str, str, str, int] | None:
    if claim is None or not stored_events:
        return None
    last = stored_events[-1]
    return (claim.username, claim.key, claim.fingerprint, str(last.originator_id),
            last.originator_version)


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """SQLite: the insert transaction holds the database's single write lock throughout."""

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
                       ) -> Sequence[int] | None:
        # The INSERT comes first, so the write lock is taken before the chain tip is read.
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        tip, db_now = read_chain_tip(c, "sqlite")
        rows = build_chain_rows(tip, db_now, stored_events, positions)
        c.executemany("INSERT INTO ledger_chain VALUES (?,?,?,?,?,?,?)", rows)
        c.executemany(EVENT_ID_INSERT["sqlite"], index_rows(stored_events, positions))
        idem = _idempotency_row(kwargs.get("idempotency"), stored_events)
        if idem:
            c.execute("INSERT INTO idempotency_keys VALUES (?,?,?,?,?)", idem)
        return positions


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """PostgreSQL: an advisory write lock serialises writers; chain rows follow.

    The library takes `LOCK TABLE stored_events IN EXCLUSIVE MODE`, which PostgreSQL allows
    only to a role with UPDATE, DELETE or TRUNCATE on the table. The runtime role has none of
    those, so the same point in the insert transaction takes `pg_advisory_xact_lock` on one
    constant key instead: held until commit or rollback, it serialises inserters just the
    same (commit order = notification id order) and needs no table privilege.
    """

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock({0})").format(Literal(WRITE_LOCK_KEY)),
        ]

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert positions is not None
        tip, db_now = read_chain_tip(curs, "postgresql")
        rows = build_chain_rows(tip, db_now, stored_events, positions)
        curs.executemany(
            "INSERT INTO ledger_chain (leaf_index, position, stream_id, version, recorded_at, "
            "prev_hash, event_hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        indexed = index_rows(stored_events, positions)
        if indexed:
            curs.executemany(EVENT_ID_INSERT["postgresql"], indexed)
        idem = _idempotency_row(kwargs.get("idempotency"), stored_events)
        if idem:
            curs.execute("INSERT INTO idempotency_keys VALUES (%s, %s, %s, %s, %s)", idem)
        return positions
