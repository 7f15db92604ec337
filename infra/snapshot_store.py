"""Participant snapshots in the store: derived rows a point-in-time read may start from.

A row (`participant_snapshots`, migration 0008) holds, for one stream at one version, either
the encoded aggregate (`aggregate`) or the casebook's outcome views (`outcome`, with the key
of their inputs), made by the code named in `codec`. Each row carries the chain hash of the
version it covers and a MAC: HMAC-SHA256, under a key the database does not hold, over every
column. A read uses a row only if its MAC is right (nobody without the key wrote or edited it)
and its hash is the chain's at that version (the log below it is the log it was made from);
anything else is skipped and the read folds the log, so a snapshot never shows what the log
does not say (docs/adr/0010-participant-snapshots.md).

`bundle` answers a point-in-time read in one statement: the stream's version at the asked
time, its latest usable-looking aggregate and outcome rows at or below that version with the
chain hashes to check them against, and the stored events after the aggregate row.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from infra.held_connections import HeldConnections
from infra.ledger.chain import parse_recorded_at
from infra.logging import get_logger

TABLE = "participant_snapshots"
AGGREGATE = "aggregate"
OUTCOME = "outcome"
WARN_ONCE_LIMIT = 10_000
log = get_logger("trial_ledger.snapshots")


@dataclass(frozen=True)
class SnapshotRow:
    """One row to store: `payload` is the codec's bytes; `input_key` only for outcome rows."""

    stream_id: str
    version: int
    kind: str
    covers_hash: bytes
    payload: bytes
    input_key: str | None = None


@dataclass(frozen=True)
class StoredEventRow:
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class Bundle:
    """What a read of one stream at one version needs; snapshot rows only if they verified."""

    version: int
    aggregate: SnapshotRow | None
    outcome: SnapshotRow | None
    events: list[StoredEventRow]
    """The stored events after `aggregate` (after 0 without one) up to `version`."""


@dataclass(frozen=True)
class Latest:
    """The newest rows of each kind for a stream, as the writer sees them (unverified)."""

    aggregate_version: int
    outcome_version: int
    outcome_key: str | None


def mac(key: bytes, codec: str, row: SnapshotRow) -> bytes:
    """HMAC-SHA256 over every column, each length-prefixed (no two rows share an input)."""
    message = b"".join(struct.pack(">Q", len(part)) + part for part in (
        row.stream_id.encode(), str(row.version).encode(), row.kind.encode(), codec.encode(),
        row.covers_hash, (row.input_key or "").encode(), row.payload))
    return hmac.digest(key, message, "sha256")


class SnapshotStore:
    """Reads and writes `participant_snapshots` under one MAC key and one codec."""

    def __init__(self, engine: Engine, key: bytes, codec: str) -> None:
        self.engine = engine
        self.key = key
        self.codec = codec
        self.postgres = engine.dialect.name == "postgresql"
        self._sql: dict[str, str] = {}
        self.held = HeldConnections(engine)
        self._warned: set[tuple[str, int, str]] = set()

    # -- reads --------------------------------------------------------------------------

    def bundle(self, stream_id: str, *, as_of: str | None = None, version: int | None = None
               ) -> Bundle:
        """The stream at recorded time `as_of` (default: now), or at `version`."""
        how = "version" if version is not None else "time" if as_of is not None else "now"
        params: dict[str, Any] = {"s": stream_id, "c": self.codec}
        if how == "version":
            params["v"] = version
        elif how == "time":
            assert as_of is not None
            params["t"] = parse_recorded_at(as_of) if self.postgres else as_of
        rows = self.held.fetch(self._bundle_sql(how), params)
        at = 0
        found: dict[int, SnapshotRow] = {}
        events: list[StoredEventRow] = []
        refold = False
        rows.sort(key=lambda r: (r[0], r[1]))
        for part, row_version, topic, covers, chain_hash, input_key, payload, tag in rows:
            if part == 0:
                at = int(row_version)
            elif part == 3:
                events.append(StoredEventRow(int(row_version), str(topic), _bytes(payload)))
            else:
                row = SnapshotRow(stream_id, int(row_version),
                                  AGGREGATE if part == 1 else OUTCOME, _bytes(covers),
                                  _bytes(payload), input_key)
                if self._trusted(row, _bytes(tag), chain_hash):
                    found[part] = row
                elif part == 1:
                    refold = True  # its events were not fetched: fold from the first
        if refold:
            events = self.events(stream_id, 0, at)
        return Bundle(at, found.get(1), found.get(2), events)

    def _trusted(self, row: SnapshotRow, tag: bytes, chain_hash: Any) -> bool:
        if chain_hash is None or _bytes(chain_hash) != row.covers_hash:
            self._skipped(row, "its chain hash is not the chain's at its version")
            return False
        if not hmac.compare_digest(tag, mac(self.key, self.codec, row)):
            self._skipped(row, "its MAC does not verify: not written by this service, or "
                               "edited since")
            return False
        return True

    def _skipped(self, row: SnapshotRow, why: str) -> None:
        """Log a row a read did not use, once per row per process (after a key rotation every
        row fails, and every read would say so again)."""
        seen = (row.stream_id, row.version, row.kind)
        if seen in self._warned:
            return
        if len(self._warned) >= WARN_ONCE_LIMIT:
            self._warned.clear()
        self._warned.add(seen)
        log.warning("snapshot_not_used", stream=row.stream_id, version=row.version,
                    kind=row.kind, why=why)

    def events(self, stream_id: str, after: int, upto: int) -> list[StoredEventRow]:
        """The stream's stored events with `after` < version <= `upto`."""
        mark = "%s" if self.postgres else "?"
        statement = (f"SELECT originator_version, topic, state FROM stored_events "
                     f"WHERE originator_id = {mark} AND originator_version > {mark} "
                     f"AND originator_version <= {mark} ORDER BY originator_version")
        return [StoredEventRow(int(v), str(topic), _bytes(state))
                for v, topic, state in self.held.fetch(statement, (stream_id, after, upto))]

    def latest(self, stream_id: str, below: int) -> Latest:
        """The newest aggregate and outcome rows of this codec below version `below` (for
        deciding what a save adds; unverified: a wrong answer costs only a missed row)."""
        p = self._mark
        newest = (f"SELECT version, input_key FROM {TABLE} WHERE stream_id = {p('s')} AND "
                  f"kind = '{{kind}}' AND codec = {p('c')} AND version < {p('b')} "
                  "ORDER BY version DESC LIMIT 1")
        statement = (f"SELECT 1, version, input_key FROM ({newest.format(kind=AGGREGATE)}) a "
                     f"UNION ALL "
                     f"SELECT 2, version, input_key FROM ({newest.format(kind=OUTCOME)}) o")
        rows = self.held.fetch(statement, {"s": stream_id, "c": self.codec, "b": below})
        by = {part: (int(version), key) for part, version, key in rows}
        aggregate = by.get(1, (0, None))
        outcome = by.get(2, (0, None))
        return Latest(aggregate[0], outcome[0], outcome[1])

    def chain_hashes(self, stream_id: str, first: int, last: int) -> dict[int, bytes]:
        mark = "%s" if self.postgres else "?"
        statement = (f"SELECT version, event_hash FROM ledger_chain WHERE stream_id = {mark} "
                     f"AND version >= {mark} AND version <= {mark}")
        rows = self.held.fetch(statement, (stream_id, first, last))
        return {int(version): _bytes(event_hash) for version, event_hash in rows}

    def close(self) -> None:
        self.held.close()

    # -- writes -------------------------------------------------------------------------

    def put(self, rows: Sequence[SnapshotRow]) -> None:
        """Add rows in a transaction of their own (see `insert`)."""
        if not rows:
            return
        with self.engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                self.insert(cursor, rows)
            finally:
                cursor.close()

    def insert(self, cursor: Any, rows: Sequence[SnapshotRow]) -> None:
        """Add rows through a DB-API cursor of this store's kind, inside the caller's
        transaction; a row already there (same stream, kind, codec, version) is left as is."""
        if not rows:
            return
        p = self._mark
        names = ("stream_id", "kind", "codec", "version", "covers_hash", "input_key",
                 "payload", "mac")
        statement = (f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES "
                     f"({', '.join(p(n) for n in names)}) ON CONFLICT DO NOTHING")
        cursor.executemany(statement, [
            {"stream_id": r.stream_id, "kind": r.kind, "codec": self.codec,
             "version": r.version, "covers_hash": r.covers_hash, "input_key": r.input_key,
             "payload": r.payload, "mac": mac(self.key, self.codec, r)} for r in rows])

    # -- SQL ----------------------------------------------------------------------------

    def _mark(self, name: str) -> str:
        return f"%({name})s" if self.postgres else f":{name}"

    def _bundle_sql(self, how: str) -> str:
        if how not in self._sql:
            self._sql[how] = self._build_bundle_sql(how)
        return self._sql[how]

    def _build_bundle_sql(self, how: str) -> str:
        p = self._mark
        if how == "version":
            at = f"SELECT CAST({p('v')} AS BIGINT) AS v"
        else:
            when = f" AND recorded_at <= {p('t')}" if how == "time" else ""
            at = (f"SELECT coalesce((SELECT version FROM ledger_chain WHERE stream_id = {p('s')}"
                  f"{when} ORDER BY version DESC LIMIT 1), 0) AS v")
        newest = (f"SELECT version, covers_hash, input_key, payload, mac FROM {TABLE} "
                  f"WHERE stream_id = {p('s')} AND kind = '{{kind}}' AND codec = {p('c')} "
                  f"AND version <= (SELECT v FROM at) ORDER BY version DESC LIMIT 1")
        snapshot = ("SELECT {part}, r.version, NULL, r.covers_hash, c.event_hash, r.input_key, "
                    "r.payload, r.mac FROM {name} r LEFT JOIN ledger_chain c "
                    f"ON c.stream_id = {p('s')} AND c.version = r.version")
        return (
            f"WITH at AS ({at}), "
            f"agg AS ({newest.format(kind=AGGREGATE)}), "
            f"outc AS ({newest.format(kind=OUTCOME)}) "
            "SELECT 0, v, NULL, NULL, NULL, NULL, NULL, NULL FROM at "
            f"UNION ALL {snapshot.format(part=1, name='agg')} "
            f"UNION ALL {snapshot.format(part=2, name='outc')} "
            "UNION ALL SELECT 3, e.originator_version, e.topic, NULL, NULL, NULL, e.state, NULL "
            f"FROM stored_events e WHERE e.originator_id = {p('s')} "
            "AND e.originator_version > coalesce((SELECT version FROM agg), 0) "
            "AND e.originator_version <= (SELECT v FROM at)"
        )


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return bytes(value)
