"""One write transaction for many requests' events (group commit, ADR 0011).

Inside the store's write lock (SQLite's database lock taken by BEGIN IMMEDIATE; the advisory
transaction lock on PostgreSQL) one transaction:

1. reads, in two statements, the current version of every stream the group writes and of the
   study stream, and the idempotency keys the group claims;
2. accepts each request in turn whose decision still holds: its stream is at the version its
   decision started from, the study stream is at the version its lock check saw, and its key
   is unclaimed. A request that fails a check is set aside with the reason (it decides again,
   or is answered as a replay); it never fails another request;
3. appends the accepted events, their chain rows (consecutive leaves over the stored bytes),
   event-id rows and idempotency rows, and commits once.

Because every writer takes the same lock before it reads, the checks are exact: no event can
land between a check and the append. This is what makes the database lock exact too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eventsourcing.persistence import StoredEvent
from psycopg.rows import tuple_row

from infra.event_store import (
    ChainedPostgresApplicationRecorder,
    ChainedSQLiteApplicationRecorder,
    IdempotencyClaim,
    build_chain_rows,
    read_chain_tip,
)
from infra.ledger.event_index import INSERT_SQL as EVENT_ID_INSERT
from infra.ledger.event_index import index_rows
from infra.ledger.store import ChainRow, IdempotencyRecord

Dialect = Literal["sqlite", "postgresql"]
STUDY_STREAM = "study"
"""The stream whose version every clinical write's lock check saw (domain.study)."""
CLAIMS_PER_SELECT = 200


@dataclass
class PendingWrite:
    """One request's events, waiting for the group transaction that appends them."""

    stored: list[StoredEvent]
    """Consecutive versions of one stream, starting right after the version decided on."""
    claim: IdempotencyClaim | None = None
    study_version: int | None = None
    """The study stream's version the lock check saw; None: not checked (not a clinical write)."""
    chain: list[ChainRow] = field(default_factory=list)
    """Set when appended: one chain row per event."""
    conflict: str | None = None
    """Set when set aside: "stream" (another write came first), "study" (the study changed:
    perhaps locked) or "claimed" (the key was used before; see `claimed`)."""
    claimed: IdempotencyRecord | None = None
    also: Callable[[Any, list[ChainRow]], None] | None = None
    """Rows derived from these events (e.g. snapshots) to write in the same transaction once
    appended: called with the transaction's cursor and the events' chain rows."""
    done: bool = False
    error: BaseException | None = None

    @property
    def stream_id(self) -> str:
        return str(self.stored[0].originator_id)

    @property
    def base_version(self) -> int:
        return int(self.stored[0].originator_version) - 1


def insert_group(recorder: Any, group: Sequence[PendingWrite]) -> None:
    """One transaction through the application recorder's own connection pool: takes the
    write lock first, then `write_group`, then commits (durably: SQLite's WAL is synced at
    each commit, PostgreSQL's commit is synchronous)."""
    if isinstance(recorder, ChainedSQLiteApplicationRecorder):
        with recorder.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor().sqlite_cursor
            try:
                cursor.execute("BEGIN IMMEDIATE")
                write_group(cursor, "sqlite", group)
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()
            conn.commit()
        return
    assert isinstance(recorder, ChainedPostgresApplicationRecorder)
    with recorder.datastore.get_connection() as pg_conn, pg_conn.transaction(), \
            pg_conn.cursor(row_factory=tuple_row) as pg_cursor:
        for statement in recorder.lock_table_statements:
            pg_cursor.execute(statement)
        write_group(pg_cursor, "postgresql", group)


def write_group(cursor: Any, dialect: Dialect, group: Sequence[PendingWrite]) -> None:
    """Append what still holds of `group` through `cursor`, inside a transaction that already
    holds the write lock; sets each request's `chain` or `conflict`. The caller commits."""
    mark = "?" if dialect == "sqlite" else "%s"
    versions = _stream_versions(cursor, mark, {p.stream_id for p in group} | {STUDY_STREAM})
    claims = _claimed(cursor, mark, [p.claim for p in group if p.claim is not None])
    taken: set[tuple[str, str]] = set()
    accepted: list[PendingWrite] = []
    for pending in group:
        key = (pending.claim.username, pending.claim.key) if pending.claim else None
        if key is not None and (key in claims or key in taken):
            pending.conflict, pending.claimed = "claimed", claims.get(key)
        elif versions.get(pending.stream_id, 0) != pending.base_version:
            pending.conflict = "stream"
        elif (pending.study_version is not None
              and versions.get(STUDY_STREAM, 0) != pending.study_version):
            pending.conflict = "study"
        else:
            accepted.append(pending)
            versions[pending.stream_id] = int(pending.stored[-1].originator_version)
            if key is not None:
                taken.add(key)
    if not accepted:
        return
    stored = [event for pending in accepted for event in pending.stored]
    positions = _insert_events(cursor, dialect, stored)
    tip, db_now = read_chain_tip(cursor, dialect)
    rows = build_chain_rows(tip, db_now, stored, positions)
    cursor.executemany(f"INSERT INTO ledger_chain (leaf_index, position, stream_id, version, "
                       f"recorded_at, prev_hash, event_hash) VALUES "
                       f"({', '.join([mark] * 7)})", rows)
    indexed = index_rows(stored, positions)
    if indexed:
        cursor.executemany(EVENT_ID_INSERT[dialect], indexed)
    idempotency = [(p.claim.username, p.claim.key, p.claim.fingerprint, p.stream_id,
                    int(p.stored[-1].originator_version)) for p in accepted if p.claim]
    if idempotency:
        cursor.executemany(f"INSERT INTO idempotency_keys VALUES ({', '.join([mark] * 5)})",
                           idempotency)
    chain = iter(ChainRow(*row) for row in rows)
    for pending in accepted:
        pending.chain = [next(chain) for _ in pending.stored]
        if pending.also is not None:
            pending.also(cursor, pending.chain)


def _stream_versions(cursor: Any, mark: str, streams: set[str]) -> dict[str, int]:
    ordered = sorted(streams)
    cursor.execute(
        f"SELECT originator_id, MAX(originator_version) FROM stored_events WHERE originator_id "
        f"IN ({', '.join([mark] * len(ordered))}) GROUP BY originator_id", ordered)
    return {str(row[0]): int(row[1]) for row in cursor.fetchall()}


def _claimed(cursor: Any, mark: str, claims: list[IdempotencyClaim]
             ) -> dict[tuple[str, str], IdempotencyRecord]:
    found: dict[tuple[str, str], IdempotencyRecord] = {}
    for start in range(0, len(claims), CLAIMS_PER_SELECT):
        chunk = claims[start:start + CLAIMS_PER_SELECT]
        where = " OR ".join([f"(username = {mark} AND key = {mark})"] * len(chunk))
        cursor.execute("SELECT username, key, fingerprint, stream_id, version "
                       f"FROM idempotency_keys WHERE {where}",
                       [value for claim in chunk for value in (claim.username, claim.key)])
        for row in cursor.fetchall():
            found[(str(row[0]), str(row[1]))] = IdempotencyRecord(str(row[2]), str(row[3]),
                                                                  int(row[4]))
    return found


def _insert_events(cursor: Any, dialect: Dialect, stored: list[StoredEvent]) -> list[int]:
    """The events' positions: SQLite's rowid, PostgreSQL's notification_id (both increase
    in insert order under the write lock)."""
    params = [(str(s.originator_id), s.originator_version, s.topic, s.state) for s in stored]
    if dialect == "sqlite":
        positions = []
        for row in params:
            cursor.execute("INSERT INTO stored_events (originator_id, originator_version, "
                           "topic, state) VALUES (?, ?, ?, ?)", row)
            positions.append(int(cursor.lastrowid))
        return positions
    cursor.executemany("INSERT INTO stored_events (originator_id, originator_version, topic, "
                       "state) VALUES (%s, %s, %s, %s) RETURNING notification_id", params,
                       returning=True)
    positions = []
    while True:
        positions.append(int(cursor.fetchone()[0]))
        if not cursor.nextset():
            break
    return positions
