"""Recompute the hash chain from the stored bytes and name the first position that disagrees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from infra.ledger.chain import GENESIS_HASH, ChainedRecord, link_hash
from infra.ledger.merkle_store import MerkleStore
from infra.ledger.store import ChainRow, LedgerStore, StoredRow


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events: int
    head: str | None
    first_bad_position: int | None = None
    first_bad_leaf_index: int | None = None
    problem: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"chain: {self.events} events linked"
        return (f"chain: FAILED at position {self.first_bad_position} (leaf "
                f"{self.first_bad_leaf_index}): {self.problem}")

    def as_dict(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "events": self.events, "head": self.head}
        return {
            "ok": False,
            "first_bad_position": self.first_bad_position,
            "first_bad_leaf_index": self.first_bad_leaf_index,
            "problem": self.problem,
            "events": self.events,
        }


def _pairs(chain: Iterator[ChainRow], stored: Iterator[StoredRow]
           ) -> Iterator[tuple[ChainRow | None, StoredRow | None]]:
    """Merge the two position-ordered sequences, pairing rows at the same position."""
    c, s = next(chain, None), next(stored, None)
    while c is not None or s is not None:
        if s is None or (c is not None and c.position < s.position):
            yield c, None
            c = next(chain, None)
        elif c is None or s.position < c.position:
            yield None, s
            s = next(stored, None)
        else:
            yield c, s
            c, s = next(chain, None), next(stored, None)


def _bad(count: int, position: int, leaf: int | None, problem: str) -> VerifyReport:
    return VerifyReport(False, count, None, position, leaf, problem)


def _missing_chain_row(store: LedgerStore, stored: StoredRow, leaf: int) -> VerifyReport:
    """A stored event without a chain row: its row was deleted (the chain's leaf indexes skip
    it, or the Merkle tree still holds its leaf), or the event was inserted outside the
    ledger (nothing is missing from the chain)."""
    what = (f"event {stored.stream_id} v{stored.version} at position {stored.position} has no "
            "chain row")
    following = store.chain_after(stored.position)
    if following is not None and following.leaf_index > leaf:
        return _bad(leaf, stored.position, leaf,
                    f"{what}: its chain row (leaf {leaf}) is missing, the chain skips from "
                    f"leaf {leaf - 1} to leaf {following.leaf_index}: the chain row was deleted")
    if following is None and MerkleStore(store.engine).has_leaf(leaf):
        return _bad(leaf, stored.position, leaf,
                    f"{what}: its chain row (leaf {leaf}) is missing although the Merkle tree "
                    "holds that leaf: the chain row was deleted")
    if following is None:
        return _bad(leaf, stored.position, None,
                    f"{what}: it was inserted outside the ledger, or the chain row of the last "
                    "event was deleted")
    return _bad(leaf, stored.position, None, f"{what}: it was inserted outside the ledger")


def verify_ledger(store: LedgerStore, *, expected_head: str | None = None) -> VerifyReport:
    """Walk chain and events together; the first disagreement is reported, with its position."""
    prev_hash, prev_recorded_at, expected_leaf = GENESIS_HASH, "", 0
    last_position = 0
    seen_head = expected_head is None
    for chain, stored in _pairs(store.iter_chain(), store.iter_stored()):
        if chain is None:
            assert stored is not None
            return _missing_chain_row(store, stored, expected_leaf)
        position = chain.position
        if stored is None:
            return _bad(expected_leaf, position, chain.leaf_index,
                        f"the event at position {position} ({chain.stream_id} v{chain.version}) "
                        "is missing from the event table: it was deleted")
        if chain.leaf_index != expected_leaf:
            return _bad(expected_leaf, position, expected_leaf,
                        f"leaf {expected_leaf} was expected at position {position} but the chain "
                        f"row says leaf {chain.leaf_index}: a chain row was removed or inserted")
        if (chain.stream_id, chain.version) != (stored.stream_id, stored.version):
            return _bad(expected_leaf, position, expected_leaf,
                        f"the chain row at position {position} names {chain.stream_id} "
                        f"v{chain.version} but the stored event is {stored.stream_id} "
                        f"v{stored.version}")
        if chain.prev_hash != prev_hash:
            return _bad(expected_leaf, position, expected_leaf,
                        f"the chain row at position {position} does not link to the previous "
                        "event's hash: the chain was edited")
        if chain.recorded_at <= prev_recorded_at:
            return _bad(expected_leaf, position, expected_leaf,
                        f"recorded_at at position {position} ({chain.recorded_at}) is not after "
                        f"the previous event's ({prev_recorded_at})")
        record = ChainedRecord(chain.leaf_index, position, stored.stream_id, stored.version,
                               stored.topic, chain.recorded_at, stored.state)
        if link_hash(prev_hash, record) != chain.event_hash:
            return _bad(expected_leaf, position, expected_leaf,
                        f"the stored bytes of {stored.stream_id} v{stored.version} at position "
                        f"{position} do not match the chain hash: the event or its chain row "
                        "was changed")
        prev_hash, prev_recorded_at = chain.event_hash, chain.recorded_at
        last_position = position
        expected_leaf += 1
        if not seen_head and prev_hash.hex() == expected_head:
            seen_head = True
    if not seen_head:
        return _bad(expected_leaf, last_position + 1, expected_leaf,
                    f"the head {expected_head} is not in the log, which ends at position "
                    f"{last_position} after {expected_leaf} events: the tail was truncated or "
                    "rewritten")
    return VerifyReport(True, expected_leaf, prev_hash.hex() if expected_leaf else None)
