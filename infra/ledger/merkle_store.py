"""The Merkle tree over the chain, kept in SQL as the hashes of its completed perfect subtrees.

`sync()` extends the stored tree from its size to the chain's current size, reading only the
new chain rows and inserting the nodes each new leaf completes (never recomputing old ones),
in one transaction serialised against other syncs: `pg_advisory_xact_lock` on PostgreSQL,
`BEGIN IMMEDIATE` (the database write lock) on SQLite. The stored size is derived from the
nodes: one past the last leaf (level 0) node. Roots and proofs for any size up to it come
from merkle.py, with the few nodes each needs fetched in one query.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from infra.ledger import merkle
from infra.ledger.chain import GENESIS_HASH
from infra.tables import ledger_chain

T = TypeVar("T")

metadata = sa.MetaData()
merkle_nodes = sa.Table(
    "merkle_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary, nullable=False),
)

SYNC_LOCK_KEY = 0x74726C6D65726B6C  # "trlmerkl": the advisory lock that serialises syncs
READ_BATCH = 10_000
INSERT_BATCH = 10_000
SYNC_ATTEMPTS = 3


class ChainForkError(RuntimeError):
    """The chain no longer extends the stored tree: rows below the synced size were rewritten."""


class TreeSizeError(ValueError):
    """A root or proof was asked for a tree size the stored tree does not (yet) have."""


@dataclass(frozen=True)
class EventLeaf:
    """Where an event sits in the tree."""

    event_id: str
    leaf_index: int
    stream_id: str
    version: int
    position: int


class _Wishlist:
    """A NodeSource that answers with placeholders and notes what was asked: merkle.py's
    lookups depend only on sizes and indexes, never on hash values."""

    def __init__(self) -> None:
        self.wanted: set[tuple[int, int]] = set()

    def subtree_hash(self, level: int, index: int) -> bytes:
        self.wanted.add((level, index))
        return bytes(merkle.HASH_SIZE)


class _FetchedNodes:
    def __init__(self, found: dict[tuple[int, int], bytes]) -> None:
        self.found = found

    def subtree_hash(self, level: int, index: int) -> bytes:
        try:
            return self.found[(level, index)]
        except KeyError:
            raise merkle.MissingNodeError(
                f"no stored subtree at level {level}, index {index}") from None


def _fetch(conn: Connection, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes among `wanted`, in one primary-key lookup per node.

    Plain SQL with the (integer) positions inlined: building the same OR as SQLAlchemy
    expressions costs more CPU than the query itself."""
    if not wanted:
        return {}
    condition = " OR ".join(f"(level = {int(level)} AND node_index = {int(index)})"
                            for level, index in sorted(wanted))
    rows = conn.exec_driver_sql(
        f"SELECT level, node_index, hash FROM merkle_nodes WHERE {condition}")
    return {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}


def _insert_nodes(conn: Connection, rows: list[tuple[int, int, bytes]]) -> None:
    """Bulk insert through the driver (COPY on PostgreSQL), inside the sync's transaction."""
    if conn.dialect.name == "postgresql":
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(
                "COPY merkle_nodes (level, node_index, hash) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(
            "INSERT INTO merkle_nodes (level, node_index, hash) VALUES (?, ?, ?)", rows)


def _stored_size(conn: Connection) -> int:
    last = conn.execute(sa.select(sa.func.max(merkle_nodes.c.node_index))
                        .where(merkle_nodes.c.level == 0)).scalar()
    return 0 if last is None else int(last) + 1


def _log_size(conn: Connection) -> int:
    last = conn.execute(sa.select(sa.func.max(ledger_chain.c.leaf_index))).scalar()
    return 0 if last is None else int(last) + 1


class MerkleStore:
    """A `NodeSource` over `merkle_nodes`, and the one writer that extends it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- sizes -----------------------------------------------------------------------------

    def size(self) -> int:
        """How many leaves the stored tree has."""
        with self.engine.connect() as conn:
            return _stored_size(conn)

    def log_size(self) -> int:
        """How many leaves the chain has (the tree has them all after `sync()`)."""
        with self.engine.connect() as conn:
            return _log_size(conn)

    # -- writing ---------------------------------------------------------------------------

    def sync(self) -> int:
        """Extend the stored tree to every chain row; return its size."""
        for attempt in range(SYNC_ATTEMPTS):
            try:
                return self._sync_once()
            except sa.exc.IntegrityError:
                # Another writer stored the same nodes first: start again from its size.
                if attempt == SYNC_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _sync_once(self) -> int:
        with self.engine.connect() as conn:
            size, target = _stored_size(conn), _log_size(conn)
            conn.rollback()
            if size >= target:
                return size
            self._lock(conn)
            size, target = _stored_size(conn), _log_size(conn)
            if size < target:
                self._extend(conn, size, target)
            conn.commit()
            return max(size, target)

    def _lock(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK_KEY})
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _extend(self, conn: Connection, size: int, target: int) -> None:
        last = {(0, size - 1)} if size else set()
        found = _fetch(conn, set(merkle.frontier_positions(size)) | last)
        tree = merkle.CompactRange.from_nodes(_FetchedNodes(found), size)
        last_leaf = found[(0, size - 1)] if size else None
        prev_event_hash: bytes | None = GENESIS_HASH if size == 0 else None
        pending: list[tuple[int, int, bytes]] = []
        expected = size
        while expected < target:
            rows = conn.execute(
                sa.select(ledger_chain.c.leaf_index, ledger_chain.c.prev_hash,
                          ledger_chain.c.event_hash)
                .where(ledger_chain.c.leaf_index >= expected, ledger_chain.c.leaf_index < target)
                .order_by(ledger_chain.c.leaf_index).limit(READ_BATCH)).all()
            if not rows:
                raise ChainForkError(f"chain leaf {expected} is missing: a chain row was deleted")
            for row in rows:
                prev_hash, event_hash = bytes(row.prev_hash), bytes(row.event_hash)
                if row.leaf_index != expected:
                    raise ChainForkError(
                        f"chain leaf {expected} is missing: a chain row was deleted")
                linked = (prev_hash == prev_event_hash if prev_event_hash is not None
                          else merkle.leaf_hash(prev_hash) == last_leaf)
                if not linked:
                    raise ChainForkError(
                        f"chain leaf {expected} does not link to the leaf before it in the "
                        "Merkle tree: chain rows below it were rewritten after they were "
                        "added to the tree; run `trial-ledger verify --checkpoint` with a "
                        "saved checkpoint to find the first changed leaf")
                pending.extend((n.level, n.index, n.hash)
                               for n in tree.append(merkle.leaf_hash(event_hash)))
                prev_event_hash = event_hash
                expected += 1
            if len(pending) >= INSERT_BATCH:
                _insert_nodes(conn, pending)
                pending = []
        if pending:
            _insert_nodes(conn, pending)

    # -- reading ---------------------------------------------------------------------------

    def subtree_hash(self, level: int, index: int) -> bytes:
        with self.engine.connect() as conn:
            return _FetchedNodes(_fetch(conn, {(level, index)})).subtree_hash(level, index)

    def root(self, size: int) -> bytes:
        """RFC 9162 MTH of the first `size` leaves."""
        return self._compute(size, lambda nodes: merkle.root_from_nodes(nodes, size))

    def inclusion_proof(self, leaf_index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 audit path of a leaf in the tree of `size` leaves."""
        if not 0 <= leaf_index < size:
            raise TreeSizeError(f"leaf {leaf_index} is not in a tree of {size} leaves")
        return self._compute(
            size, lambda nodes: merkle.inclusion_proof_from_nodes(nodes, leaf_index, size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 proof that the tree of `first` leaves is a prefix of `second`."""
        if not 0 <= first <= second:
            raise TreeSizeError(f"need 0 <= first <= second, got {first} and {second}")
        return self._compute(
            second, lambda nodes: merkle.consistency_proof_from_nodes(nodes, first, second))

    def has_leaf(self, leaf_index: int) -> bool:
        with self.engine.connect() as conn:
            return (0, leaf_index) in _fetch(conn, {(0, leaf_index)})

    def leaf(self, leaf_index: int) -> bytes:
        return self.subtree_hash(0, leaf_index)

    def leaves(self, start: int = 0, stop: int | None = None,
               batch: int = READ_BATCH) -> Iterator[tuple[int, bytes]]:
        """Stored leaf hashes (index, hash) in order, from `start` up to `stop`."""
        after = start - 1
        while True:
            query = (sa.select(merkle_nodes.c.node_index, merkle_nodes.c.hash)
                     .where(merkle_nodes.c.level == 0, merkle_nodes.c.node_index > after)
                     .order_by(merkle_nodes.c.node_index).limit(batch))
            if stop is not None:
                query = query.where(merkle_nodes.c.node_index < stop)
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield int(row.node_index), bytes(row.hash)
            after = int(rows[-1].node_index)

    def _compute(self, size: int, compute: Callable[[merkle.NodeSource], T]) -> T:
        """One query: the nodes the computation reads, and the tree's last leaf, which is
        stored exactly when the stored tree has at least `size` leaves."""
        if size < 0:
            raise TreeSizeError(f"tree size must be >= 0, got {size}")
        wishlist = _Wishlist()
        compute(wishlist)
        last = {(0, size - 1)} if size else set()
        with self.engine.connect() as conn:
            found = _fetch(conn, wishlist.wanted | last)
            if not last <= found.keys():
                raise TreeSizeError(f"tree size {size} is beyond the stored tree of "
                                    f"{_stored_size(conn)} leaves")
        return compute(_FetchedNodes(found))

    # -- events ----------------------------------------------------------------------------

    def find_event(self, event_id: str) -> EventLeaf | None:
        """The leaf of the event whose stored state carries this `event_id`."""
        needle = json.dumps({"event_id": event_id}, separators=(",", ":"))[1:-1].encode()
        postgres = self.engine.dialect.name == "postgresql"
        contains = ("position(CAST(:needle AS bytea) IN s.state) > 0" if postgres
                    else "instr(s.state, :needle) > 0")
        statement = sa.text(
            "SELECT c.leaf_index, c.stream_id, c.version, c.position, s.state "
            "FROM stored_events s JOIN ledger_chain c "
            "ON c.stream_id = s.originator_id AND c.version = s.originator_version "
            f"WHERE {contains} ORDER BY c.leaf_index")
        with self.engine.connect() as conn:
            rows = conn.execute(statement, {"needle": needle}).all()
        for row in rows:
            try:
                state = json.loads(bytes(row.state))
            except ValueError:
                continue
            if isinstance(state, dict) and state.get("event_id") == event_id:
                return EventLeaf(event_id, int(row.leaf_index), str(row.stream_id),
                                 int(row.version), int(row.position))
        return None
