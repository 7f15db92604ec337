"""merkle.py against a slow reference written straight from RFC 9162 §2.1 and published vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.ledger import merkle, proofs

MAX_SIZE = 64


# --- Reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 transcribed, over entries D[n] -------


def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + entries[0])
    k = ref_split(n)
    return ref_hash(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return ref_path(m, entries[:k]) + [ref_mth(entries[k:])]
    return ref_path(m - k, entries[k:]) + [ref_mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


def ref_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = ref_split(n)
    if m <= k:
        return ref_subproof(m, entries[:k], b) + [ref_mth(entries[k:])]
    return ref_subproof(m - k, entries[k:], False) + [ref_mth(entries[:k])]


# --- Fixtures ------------------------------------------------------------------------------

EVENTS = [ref_hash(f"event {i}".encode()) for i in range(300)]
LEAVES = [merkle.leaf_hash(e) for e in EVENTS]
SIZES = range(1, MAX_SIZE + 1)

# RFC 6962 test vectors (certificate-transparency / transparency-dev test data).
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
CT_LEAVES = [ref_hash(b"\x00" + e) for e in CT_ENTRIES]


class CountingNodes:
    """A NodeSource over a {(level, index): hash} table that counts lookups."""

    def __init__(self, table: dict[tuple[int, int], bytes]) -> None:
        self.table = table
        self.lookups = 0

    def subtree_hash(self, level: int, index: int) -> bytes:
        self.lookups += 1
        try:
            return self.table[(level, index)]
        except KeyError:
            raise merkle.MissingNodeError((level, index)) from None


def stored_table(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """What the production table holds: every node CompactRange.append reported."""
    frontier = merkle.CompactRange()
    table: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        for node in frontier.append(leaf):
            assert (node.level, node.index) not in table
            table[(node.level, node.index)] = node.hash
    return table


# --- Hash primitives and published vectors --------------------------------------------------


def test_leaf_and_node_hashes_use_the_rfc_domain_prefixes() -> None:
    event = EVENTS[0]
    assert merkle.leaf_hash(event) == hashlib.sha256(b"\x00" + event).digest()
    assert (
        merkle.node_hash(LEAVES[0], LEAVES[1])
        == hashlib.sha256(b"\x01" + LEAVES[0] + LEAVES[1]).digest()
    )


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, EVENTS[0].hex().encode()])
def test_leaf_hash_refuses_anything_but_a_32_byte_event_hash(bad: bytes) -> None:
    with pytest.raises(ValueError):
        merkle.leaf_hash(bad)


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.CompactRange().root() == merkle.EMPTY_ROOT


def test_split_is_largest_power_of_two_below_not_the_midpoint() -> None:
    expected = {2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 8: 4, 9: 8, 1000: 512, 2**40: 2**39}
    for n, k in expected.items():
        assert merkle.largest_power_of_two_below(n) == k == ref_split(n)


def test_published_rfc6962_roots_for_sizes_0_to_8() -> None:
    for size, expected in enumerate(CT_ROOTS):
        assert merkle.root(CT_LEAVES[:size]).hex() == expected
        assert ref_mth(CT_ENTRIES[:size]).hex() == expected


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_published_rfc6962_inclusion_proofs(index: int, size: int) -> None:
    expected = [bytes.fromhex(h) for h in CT_INCLUSION[(index, size)]]
    assert merkle.inclusion_proof(index, CT_LEAVES[:size]) == expected
    assert ref_path(index, CT_ENTRIES[:size]) == expected
    root = bytes.fromhex(CT_ROOTS[size])
    assert proofs.verify_inclusion(CT_LEAVES[index], index, size, expected, root)


@pytest.mark.parametrize(("first", "second"), sorted(CT_CONSISTENCY))
def test_published_rfc6962_consistency_proofs(first: int, second: int) -> None:
    expected = [bytes.fromhex(h) for h in CT_CONSISTENCY[(first, second)]]
    assert merkle.consistency_proof(first, CT_LEAVES[:second]) == expected
    assert ref_proof(first, CT_ENTRIES[:second]) == expected
    first_root, second_root = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    assert proofs.verify_consistency(first, second, first_root, second_root, expected)


# --- Every tree size 1..64 against the reference --------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_root_matches_reference(size: int) -> None:
    assert merkle.root(LEAVES[:size]) == ref_mth(EVENTS[:size])


@pytest.mark.parametrize("size", SIZES)
def test_every_inclusion_proof_matches_reference_and_verifies(size: int) -> None:
    leaves, root = LEAVES[:size], ref_mth(EVENTS[:size])
    for index in range(size):
        path = merkle.inclusion_proof(index, leaves)
        assert path == ref_path(index, EVENTS[:size]), (index, size)
        assert proofs.verify_inclusion(leaves[index], index, size, path, root), (index, size)


@pytest.mark.parametrize("second", SIZES)
def test_every_consistency_proof_matches_reference_and_verifies(second: int) -> None:
    leaves, second_root = LEAVES[:second], ref_mth(EVENTS[:second])
    for first in range(1, second + 1):
        proof = merkle.consistency_proof(first, leaves)
        assert proof == ref_proof(first, EVENTS[:second]), (first, second)
        first_root = ref_mth(EVENTS[:first])
        assert proofs.verify_consistency(first, second, first_root, second_root, proof)


def test_consistency_with_the_empty_tree_is_an_empty_proof() -> None:
    for second in range(9):
        assert merkle.consistency_proof(0, LEAVES[:second]) == []
        second_root = merkle.root(LEAVES[:second])
        assert proofs.verify_consistency(0, second, merkle.EMPTY_ROOT, second_root, [])


def test_compact_range_root_after_each_append_matches_reference() -> None:
    frontier = merkle.CompactRange()
    for size in SIZES:
        frontier.append(LEAVES[size - 1])
        assert frontier.size == size
        assert len(frontier.frontier) == size.bit_count()
        assert frontier.root() == ref_mth(EVENTS[:size]), size


def test_compact_range_reports_exactly_the_completed_perfect_subtrees() -> None:
    for size in range(130):
        expected = {(n.level, n.index): n.hash for n in merkle.InMemoryNodes(LEAVES[:size]).nodes()}
        assert stored_table(LEAVES[:size]) == expected, size


def test_compact_range_append_reports_leaf_then_parents_bottom_up() -> None:
    frontier = merkle.CompactRange()
    for leaf in LEAVES[:7]:
        frontier.append(leaf)
    completed = frontier.append(LEAVES[7])
    assert [(n.level, n.index) for n in completed] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert completed[-1].hash == merkle.root(LEAVES[:8])


def test_compact_range_restored_from_stored_nodes_continues_identically() -> None:
    table = stored_table(LEAVES[:200])
    for size in range(150):
        restored = merkle.CompactRange.from_nodes(CountingNodes(table), size)
        assert restored.root() == merkle.root(LEAVES[:size])
        for leaf in LEAVES[size : size + 20]:
            restored.append(leaf)
        assert restored.root() == merkle.root(LEAVES[: restored.size])


def test_compact_range_refuses_inconsistent_state() -> None:
    with pytest.raises(ValueError):
        merkle.CompactRange(3, [LEAVES[0]])
    with pytest.raises(ValueError):
        merkle.CompactRange(-1, [])
    with pytest.raises(ValueError):
        merkle.CompactRange().append(b"short")


def test_frontier_positions_cover_the_tree_left_to_right() -> None:
    assert merkle.frontier_positions(0) == []
    assert merkle.frontier_positions(8) == [(3, 0)]
    assert merkle.frontier_positions(13) == [(3, 0), (2, 2), (0, 12)]


# --- Stored perfect subtrees: O(log n) lookups ----------------------------------------------

LOOKUP_SIZES = [1, 2, 3, 7, 8, 9, 255, 256, 257, 300, 511, 513, 1000, 1023, 1024, 1025]


@pytest.fixture(scope="module")
def big_table() -> dict[tuple[int, int], bytes]:
    events = [ref_hash(f"big {i}".encode()) for i in range(1025)]
    return stored_table([merkle.leaf_hash(e) for e in events])


def lookup_bound(size: int) -> int:
    """Generous O(log n) budget: a few lookups per level of the tree."""
    return 3 * max(size.bit_length(), 1) + 2


@pytest.mark.parametrize("size", LOOKUP_SIZES)
def test_root_from_stored_nodes_needs_one_lookup_per_set_bit(
    size: int, big_table: dict[tuple[int, int], bytes]
) -> None:
    nodes = CountingNodes(big_table)
    expected = merkle.CompactRange.from_nodes(CountingNodes(big_table), size).root()
    assert merkle.root_from_nodes(nodes, size) == expected
    assert nodes.lookups == size.bit_count()


@pytest.mark.parametrize("size", LOOKUP_SIZES)
def test_proofs_from_stored_nodes_need_logarithmic_lookups(
    size: int, big_table: dict[tuple[int, int], bytes]
) -> None:
    root = merkle.root_from_nodes(CountingNodes(big_table), size)
    for index in sorted({0, 1, size // 3, size // 2, size - 2, size - 1} & set(range(size))):
        nodes = CountingNodes(big_table)
        path = merkle.inclusion_proof_from_nodes(nodes, index, size)
        assert nodes.lookups <= lookup_bound(size), (index, size, nodes.lookups)
        leaf = big_table[(0, index)]
        assert proofs.verify_inclusion(leaf, index, size, path, root)
    for first in sorted({1, 2, 3, size // 2, size - 1} & set(range(1, size))):
        nodes = CountingNodes(big_table)
        proof = merkle.consistency_proof_from_nodes(nodes, first, size)
        assert nodes.lookups <= lookup_bound(size), (first, size, nodes.lookups)
        first_root = merkle.root_from_nodes(CountingNodes(big_table), first)
        assert proofs.verify_consistency(first, size, first_root, root, proof)


def test_missing_stored_node_is_reported() -> None:
    table = stored_table(LEAVES[:8])
    del table[(1, 2)]
    with pytest.raises(merkle.MissingNodeError):
        merkle.root_from_nodes(CountingNodes(table), 7)
    with pytest.raises(merkle.MissingNodeError):
        merkle.InMemoryNodes(LEAVES[:3]).subtree_hash(1, 1)


@pytest.mark.parametrize(("index", "size"), [(-1, 4), (4, 4), (0, 0)])
def test_inclusion_proof_refuses_indexes_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(index, LEAVES[:size])


@pytest.mark.parametrize(("first", "second"), [(-1, 4), (5, 4)])
def test_consistency_proof_refuses_impossible_sizes(first: int, second: int) -> None:
    with pytest.raises(ValueError):
        merkle.consistency_proof_from_nodes(merkle.InMemoryNodes(LEAVES[:second]), first, second)


def test_in_memory_nodes_refuse_malformed_leaves() -> None:
    with pytest.raises(ValueError):
        merkle.InMemoryNodes([LEAVES[0], b"not a hash"])


# --- Property tests beyond 64 leaves ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=300).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
    )
)
def test_random_inclusion_proofs_match_reference(case: tuple[int, int]) -> None:
    size, index = case
    path = merkle.inclusion_proof(index, LEAVES[:size])
    assert path == ref_path(index, EVENTS[:size])
    assert proofs.verify_inclusion(LEAVES[index], index, size, path, ref_mth(EVENTS[:size]))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=300).flatmap(
        lambda n: st.tuples(st.integers(min_value=1, max_value=n), st.just(n))
    )
)
def test_random_consistency_proofs_match_reference(case: tuple[int, int]) -> None:
    first, second = case
    proof = merkle.consistency_proof(first, LEAVES[:second])
    assert proof == ref_proof(first, EVENTS[:second])
    assert proofs.verify_consistency(
        first, second, ref_mth(EVENTS[:first]), ref_mth(EVENTS[:second]), proof
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=100))
def test_compact_range_agrees_with_in_memory_tree_for_any_leaves(leaves: list[bytes]) -> None:
    frontier = merkle.CompactRange()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == merkle.root(leaves)
