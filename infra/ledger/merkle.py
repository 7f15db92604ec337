"""RFC 9162 §2.1 Merkle Tree Hash, inclusion paths and consistency proofs.

Every algorithm here reads the tree only through perfect subtrees (``NodeSource``), so a
store that keeps each completed perfect subtree hash can answer any root or proof for any
tree size with O(log n) lookups instead of rehashing the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 9162 §2.1.1: MTH({}) = HASH()."""


class MissingNodeError(LookupError):
    """A perfect subtree hash that the algorithm needs is not stored."""


@dataclass(frozen=True, slots=True)
class StoredNode:
    """Hash of the perfect subtree covering leaves [index * 2**level, (index + 1) * 2**level)."""

    level: int
    index: int
    hash: bytes


class NodeSource(Protocol):
    """Read access to the hashes of completed perfect subtrees (level 0 = leaf hashes)."""

    def subtree_hash(self, level: int, index: int) -> bytes: ...


def leaf_hash(event_hash: bytes) -> bytes:
    """RFC 9162 §2.1.1: leaf = SHA-256(0x00 || event_hash)."""
    _check_hash(event_hash, "event_hash")
    return hashlib.sha256(b"\x00" + event_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: interior node = SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """RFC 9162 §2.1.1 split point k: the largest power of two smaller than n (n > 1)."""
    if n < 2:
        raise ValueError(f"split needs at least 2 leaves, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


class InMemoryNodes:
    """A ``NodeSource`` holding every completed perfect subtree of a list of leaf hashes."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        for position, leaf in enumerate(leaves):
            _check_hash(leaf, f"leaf hash {position}")
        self._levels: list[list[bytes]] = [list(leaves)]
        while len(self._levels[-1]) > 1:
            below = self._levels[-1]
            self._levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def subtree_hash(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise MissingNodeError(f"no complete subtree at level {level}, index {index}")

    def nodes(self) -> Iterator[StoredNode]:
        """Every completed perfect subtree, level by level."""
        for level, hashes in enumerate(self._levels):
            for index, hash_ in enumerate(hashes):
                yield StoredNode(level, index, hash_)


class CompactRange:
    """Append-only frontier of a tree: the perfect subtrees that the binary digits of its
    size decompose it into, largest (leftmost) first."""

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        if len(frontier) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, got {len(frontier)}"
            )
        for position, hash_ in enumerate(frontier):
            _check_hash(hash_, f"frontier hash {position}")
        self._size = size
        self._frontier = list(frontier)

    @classmethod
    def from_nodes(cls, nodes: NodeSource, size: int) -> CompactRange:
        """Restore the frontier of a stored tree of ``size`` leaves with O(log n) lookups."""
        return cls(
            size, [nodes.subtree_hash(level, index) for level, index in frontier_positions(size)]
        )

    @property
    def size(self) -> int:
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        return tuple(self._frontier)

    def append(self, leaf: bytes) -> list[StoredNode]:
        """Add one leaf hash; return the leaf and every perfect subtree it completes."""
        _check_hash(leaf, "leaf hash")
        level, index, hash_ = 0, self._size, leaf
        completed = [StoredNode(level, index, hash_)]
        while index & 1:
            hash_ = node_hash(self._frontier.pop(), hash_)
            level, index = level + 1, index >> 1
            completed.append(StoredNode(level, index, hash_))
        self._frontier.append(hash_)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the current tree, folding the frontier from the right edge."""
        if not self._frontier:
            return EMPTY_ROOT
        result = self._frontier[-1]
        for hash_ in reversed(self._frontier[:-1]):
            result = node_hash(hash_, result)
        return result


def frontier_positions(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees making up a tree of ``size`` leaves, left first."""
    positions = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            positions.append((level, start >> level))
            start += 1 << level
    return positions


def root_from_nodes(nodes: NodeSource, size: int) -> bytes:
    """RFC 9162 §2.1.1 MTH(D[0:size])."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    if size == 0:
        return EMPTY_ROOT
    return _subtree_root(nodes, 0, size)


def inclusion_proof_from_nodes(nodes: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), leaf sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _path(nodes, index, 0, size)


def consistency_proof_from_nodes(nodes: NodeSource, first: int, second: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[0:second]).

    The RFC defines the proof for 0 < first < second; for first == 0 or first == second
    there is nothing to prove and the proof is empty.
    """
    if not 0 <= first <= second:
        raise ValueError(f"need 0 <= first <= second, got first={first}, second={second}")
    if first in (0, second):
        return []
    return _subproof(nodes, first, 0, second, True)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes."""
    return root_from_nodes(InMemoryNodes(leaves), len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of all ``leaves``."""
    return inclusion_proof_from_nodes(InMemoryNodes(leaves), index, len(leaves))


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Proof that the first ``m`` leaves are a prefix of the tree of all ``leaves``."""
    return consistency_proof_from_nodes(InMemoryNodes(leaves), m, len(leaves))


def _subtree_root(nodes: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range the RFC recursion produces (start aligned to the split).

    Such a range is its largest perfect subtree plus a shorter right remainder, so this takes
    one lookup per set bit of end - start.
    """
    size = end - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        if start % size:
            raise ValueError(f"range [{start}, {end}) is not an aligned perfect subtree")
        return nodes.subtree_hash(level, start >> level)
    k = largest_power_of_two_below(size)
    return node_hash(_subtree_root(nodes, start, start + k), _subtree_root(nodes, start + k, end))


def _path(nodes: NodeSource, m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) with m relative to start."""
    size = end - start
    if size == 1:
        return []
    k = largest_power_of_two_below(size)
    if m < k:
        return [*_path(nodes, m, start, start + k), _subtree_root(nodes, start + k, end)]
    return [*_path(nodes, m - k, start + k, end), _subtree_root(nodes, start, start + k)]


def _subproof(nodes: NodeSource, m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b); ``whole`` is b: D[0:m] is a complete subtree of D[n]."""
    size = end - start
    if m == size:
        return [] if whole else [_subtree_root(nodes, start, end)]
    k = largest_power_of_two_below(size)
    if m <= k:
        return [*_subproof(nodes, m, start, start + k, whole), _subtree_root(nodes, start + k, end)]
    return [*_subproof(nodes, m - k, start + k, end, False), _subtree_root(nodes, start, start + k)]


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")
