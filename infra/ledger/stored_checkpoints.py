"""Check today's log against every signed checkpoint the store holds (part of plain `verify`).

Each stored checkpoint's signature is checked with the configured public key, its row must
agree with its signed body, and the Merkle root re-derived from the stored event bytes at its
tree size (leaf hashes chained from the genesis hash, never read from the chain's hash
columns) must equal the signed root. One streaming pass over the log serves every checkpoint,
in tree-size order. A rewrite of an event that a stored checkpoint covers, even with every
later chain link recomputed, changes that root and is named here.

What this cannot see: events after the newest stored checkpoint (only the chain protects them
until the next checkpoint), and an attacker who deletes or re-signs the stored checkpoints as
well (the signing key is outside the database, so re-signing needs the key; deleting the rows
needs only the database). A checkpoint kept outside the store (`verify --checkpoint FILE`) or a
kept head hash (`verify --head`) covers that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from infra.ledger import checkpoint_format as fmt
from infra.ledger import merkle
from infra.ledger.checkpoints import RecomputedLeaf, ledger_checkpoints, recomputed_leaves
from infra.ledger.merkle_store import MerkleStore, TreeSizeError

CHECKPOINT_BATCH = 1000


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint_id: int
    origin: str
    tree_size: int
    root_hash: bytes
    key_id: str
    body: str
    signature: bytes
    issued_at: str | None = None

    def name(self) -> str:
        return f"checkpoint #{self.checkpoint_id} (tree size {self.tree_size})"


@dataclass(frozen=True)
class StoredCheckpointsReport:
    ok: bool
    checked: int
    newest_size: int | None
    log_size: int
    checkpoint_id: int | None = None
    first_bad_leaf_index: int | None = None
    first_bad_event: dict[str, Any] | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if not self.ok:
            return f"checkpoints: FAILED: {self.problem}"
        if self.checked == 0:
            return "checkpoints: none stored yet"
        return (f"checkpoints: {self.checked} signed checkpoints consistent, newest size "
                f"{self.newest_size}")


def iter_stored_checkpoints(engine: Engine, batch: int = CHECKPOINT_BATCH
                            ) -> Iterator[StoredCheckpoint]:
    """Every stored checkpoint in (tree size, id) order, fetched in batches (keyset paging)."""
    t = ledger_checkpoints.c
    after: tuple[int, int] = (-1, -1)
    while True:
        query = (sa.select(ledger_checkpoints)
                 .where(sa.or_(t.tree_size > after[0],
                               sa.and_(t.tree_size == after[0], t.checkpoint_id > after[1])))
                 .order_by(t.tree_size, t.checkpoint_id).limit(batch))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield StoredCheckpoint(int(row.checkpoint_id), str(row.origin), int(row.tree_size),
                                   bytes(row.root_hash), str(row.key_id), str(row.body),
                                   bytes(row.signature), row.issued_at)
        after = (int(rows[-1].tree_size), int(rows[-1].checkpoint_id))


def _count_and_newest(engine: Engine) -> tuple[int, int | None]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.count(), sa.func.max(
            ledger_checkpoints.c.tree_size))).one()
    return int(row[0]), None if row[1] is None else int(row[1])


class _Failed(Exception):
    def __init__(self, checkpoint: StoredCheckpoint, problem: str,
                 leaf: RecomputedLeaf | None = None) -> None:
        super().__init__(problem)
        self.checkpoint, self.problem, self.leaf = checkpoint, problem, leaf


def describe_leaf(leaf: RecomputedLeaf) -> str:
    if leaf.stream_id is None:
        return f"leaf {leaf.leaf_index} (its chain row is missing)"
    return f"leaf {leaf.leaf_index} ({leaf.stream_id} v{leaf.version} at position {leaf.position})"


class _Walk:
    """Leaves re-derived from the stored bytes beside the leaves kept in `merkle_nodes`, with
    the roots of both at each checkpoint's size."""

    def __init__(self, engine: Engine, public_key: bytes, origin: str) -> None:
        self.public_key, self.origin = public_key, origin
        self.tree = MerkleStore(engine)
        self.kept_size = self.tree.size()
        self._kept_leaves = self.tree.leaves(0, self.kept_size)
        self._next_kept = next(self._kept_leaves, None)
        self.recomputed, self.kept = merkle.CompactRange(), merkle.CompactRange()
        self.kept_broken = False  # a kept leaf below the kept size is missing
        self.walked = 0
        self.first_diff: RecomputedLeaf | None = None  # vs the leaf kept when it was added
        self.first_missing: RecomputedLeaf | None = None  # its event or chain row is gone
        self.last_good_size = 0
        self.last_good_root = merkle.EMPTY_ROOT

    def _kept_hash(self, index: int) -> bytes | None:
        while self._next_kept is not None and self._next_kept[0] < index:
            self._next_kept = next(self._kept_leaves, None)
        if self._next_kept is not None and self._next_kept[0] == index:
            return self._next_kept[1]
        return None

    def add(self, leaf: RecomputedLeaf) -> None:
        self.walked += 1
        if leaf.hash is None and self.first_missing is None:
            self.first_missing = leaf
        if self.first_missing is None and leaf.hash is not None:
            self.recomputed.append(leaf.hash)
        if leaf.leaf_index >= self.kept_size or self.kept_broken:
            return
        kept_hash = self._kept_hash(leaf.leaf_index)
        if kept_hash is None:
            self.kept_broken = True
            return
        self.kept.append(kept_hash)
        if self.first_diff is None and leaf.hash != kept_hash:
            self.first_diff = leaf

    def kept_root(self, size: int) -> bytes | None:
        return None if self.kept_broken or size > self.kept_size else self.kept.root()

    def check(self, checkpoint: StoredCheckpoint) -> None:
        """Signature, row against body, origin, then the root re-derived from the events."""
        size, root, name = checkpoint.tree_size, checkpoint.root_hash, checkpoint.name()
        self.authenticate(checkpoint)
        if self.first_missing is not None and self.first_missing.leaf_index < size:
            raise _Failed(checkpoint, f"{name} covers {describe_leaf(self.first_missing)}, "
                                      "which cannot be re-derived: its stored event or chain "
                                      "row was deleted", self.first_missing)
        if self.recomputed.root() != root:
            raise _Failed(checkpoint, self._mismatch(checkpoint), self._named(size, root))
        if size > self.kept_size:
            raise _Failed(checkpoint, f"{name}: the stored Merkle tree has only "
                                      f"{self.kept_size} leaves: the node table was truncated")
        if self.kept_root(size) != root:
            raise _Failed(checkpoint, f"{name}: the events match it but the leaves kept in the "
                                      "Merkle node table do not: the node table was rewritten")
        self.last_good_size, self.last_good_root = size, root

    def authenticate(self, checkpoint: StoredCheckpoint) -> None:
        """Signature with the configured key, row against its signed body, origin."""
        name = checkpoint.name()
        if not fmt.verify_checkpoint(self.public_key, checkpoint.body, checkpoint.signature):
            raise _Failed(checkpoint, f"{name}: its signature does not verify with the "
                                      f"configured key {fmt.key_id(self.public_key)}: it was "
                                      "forged or altered, or signed by another key")
        try:
            signed = fmt.read_body(checkpoint.body)  # with or without the timestamp line
        except ValueError as error:
            raise _Failed(checkpoint, f"{name}: its signed body is malformed: {error}"
                          ) from None
        origin, size, root = signed.origin, signed.tree_size, signed.root_hash
        if (origin, size, root) != (checkpoint.origin, checkpoint.tree_size,
                                    checkpoint.root_hash):
            raise _Failed(checkpoint, f"{name}: its row disagrees with its signed body "
                                      f"(which says size {size}): the row was edited")
        if signed.timestamp is not None and checkpoint.issued_at != signed.timestamp:
            raise _Failed(checkpoint, f"{name}: its row disagrees with its signed body "
                                      f"(which says issued at {signed.timestamp}): the row "
                                      "was edited")
        if origin != self.origin:
            raise _Failed(checkpoint, f"{name} is for log {origin!r}, not this log "
                                      f"({self.origin!r})")

    def _named(self, size: int, root: bytes) -> RecomputedLeaf | None:
        """The first leaf differing from the kept leaves, trusted only when the kept leaves
        still hash to the signed root."""
        diff = self.first_diff
        if diff is not None and diff.leaf_index < size and self.kept_root(size) == root:
            return diff
        return None

    def _mismatch(self, checkpoint: StoredCheckpoint) -> str:
        size = checkpoint.tree_size
        text = (f"{checkpoint.name()}: the root re-derived from the stored events does not "
                "match its signed root")
        named = self._named(size, checkpoint.root_hash)
        if named is not None:
            return (f"{text}; the first rewritten leaf is {describe_leaf(named)}: its stored "
                    "bytes or its place in the chain were changed after the checkpoint was "
                    "issued (its chain links were recomputed, or the chain would have failed)")
        return (f"{text}; the rewritten leaf lies between leaf {self.last_good_size} and leaf "
                f"{size - 1} (the leaves kept in the Merkle node table were rewritten too, so "
                "it cannot be named more precisely)")


def verify_stored_checkpoints(engine: Engine, *, public_key: bytes | None, origin: str
                              ) -> StoredCheckpointsReport:
    """Check the log against every stored checkpoint; the first that fails is reported."""
    count, newest = _count_and_newest(engine)
    tree = MerkleStore(engine)
    log_size = tree.log_size()
    if count == 0 or newest is None:
        return StoredCheckpointsReport(True, 0, None, log_size)
    if public_key is None:
        return StoredCheckpointsReport(
            False, 0, newest, log_size,
            problem=f"{count} stored checkpoints cannot be authenticated: no signing key is "
                    "configured (set TRIAL_LEDGER_SIGNING_KEY_FILE or TRIAL_LEDGER_SECRETS_DIR "
                    "to where the key is kept)")
    walk = _Walk(engine, public_key, origin)
    checkpoints = iter_stored_checkpoints(engine)
    pending = next(checkpoints, None)
    leaves = recomputed_leaves(engine)
    checked = 0
    last: StoredCheckpoint | None = None
    try:
        while pending is not None:
            if pending.tree_size <= walk.walked:  # sizes ascend, so this is equality
                walk.check(pending)
                checked, last, pending = checked + 1, pending, next(checkpoints, None)
                continue
            leaf = next(leaves, None)
            if leaf is None:
                walk.authenticate(pending)
                raise _Failed(pending, f"{pending.name()}: the log has {walk.walked} events, "
                                       f"fewer than the {pending.tree_size} it signed: events "
                                       "were removed from its end")
            walk.add(leaf)
        if last is not None and tree.root(last.tree_size) != walk.last_good_root:
            raise _Failed(last, f"the Merkle node table's internal nodes do not hash to the "
                                f"signed root of size {last.tree_size}: the node table was "
                                "rewritten")
    except _Failed as failure:
        leaf = failure.leaf
        return StoredCheckpointsReport(
            False, checked, newest, log_size, failure.checkpoint.checkpoint_id,
            None if leaf is None else leaf.leaf_index,
            None if leaf is None or leaf.stream_id is None else {
                "leaf_index": leaf.leaf_index, "stream_id": leaf.stream_id,
                "version": leaf.version, "position": leaf.position},
            failure.problem)
    except (TreeSizeError, merkle.MissingNodeError) as error:
        return StoredCheckpointsReport(False, checked, newest, log_size, problem=str(error))
    return StoredCheckpointsReport(True, checked, newest, log_size)
