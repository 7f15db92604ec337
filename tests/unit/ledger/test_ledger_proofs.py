"""proofs.py: tampered proofs fail, the CLI never crashes, and the file stands alone."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.ledger import merkle, proofs

MAX_SIZE = 64
SIZES = range(1, MAX_SIZE + 1)
EVENTS = [hashlib.sha256(f"dose {i}".encode()).digest() for i in range(MAX_SIZE)]
LEAVES = [merkle.leaf_hash(e) for e in EVENTS]
ROOTS = [merkle.root(LEAVES[:n]) for n in range(MAX_SIZE + 1)]
OTHER = hashlib.sha256(b"not in the tree").digest()
PROOFS_FILE = Path(proofs.__file__)


def flipped(value: bytes, position: int = 0) -> bytes:
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


def sides(index: int, size: int) -> list[bool]:
    """For each audit path element, whether the RFC tree puts the sibling on the right."""
    if size == 1:
        return []
    k = merkle.largest_power_of_two_below(size)
    if index < k:
        return [*sides(index, k), True]
    return [*sides(index - k, size - k), False]


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# --- Inclusion: tampering ---------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_tampered_inclusion_proofs_are_rejected(size: int) -> None:
    root = ROOTS[size]
    for index in range(size):
        leaf, path = LEAVES[index], merkle.inclusion_proof(index, LEAVES[:size])
        assert proofs.verify_inclusion(leaf, index, size, path, root)
        for position in range(len(path)):
            for byte in (0, 17, 31):
                bad = [*path[:position], flipped(path[position], byte), *path[position + 1 :]]
                assert not proofs.verify_inclusion(leaf, index, size, bad, root)
        assert not proofs.verify_inclusion(flipped(leaf), index, size, path, root)
        assert not proofs.verify_inclusion(leaf, index, size, path, flipped(root, 31))
        assert not proofs.verify_inclusion(leaf, index, size, [*path, OTHER], root)
        assert not proofs.verify_inclusion(leaf, index, size, [*path, root], root)
        assert not proofs.verify_inclusion(leaf, index, size, [leaf, *path], root)
        if path:
            assert not proofs.verify_inclusion(leaf, index, size, path[:-1], root)
            assert not proofs.verify_inclusion(leaf, index, size, path[1:], root)
        if len(path) > 1:
            assert not proofs.verify_inclusion(leaf, index, size, path[::-1], root)


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proof_only_verifies_for_its_own_index_and_signed_size(size: int) -> None:
    """Against the genuine root of the claimed size, a proof holds only for its own position."""
    for index in range(size):
        path = merkle.inclusion_proof(index, LEAVES[:size])
        for other_index in range(size):
            if other_index != index:
                assert not proofs.verify_inclusion(
                    LEAVES[index], other_index, size, path, ROOTS[size]
                )
                assert not proofs.verify_inclusion(
                    LEAVES[other_index], other_index, size, path, ROOTS[size]
                )
        for other_size in SIZES:
            if other_size != size:
                claimed_root = ROOTS[other_size]
                assert not proofs.verify_inclusion(
                    LEAVES[index], index, other_size, path, claimed_root
                )


@pytest.mark.parametrize("size", range(1, 33))
def test_inclusion_proof_binds_tree_size_only_through_the_root(size: int) -> None:
    """RFC 9162 verification checks a path's shape, not the size itself: with an unchanged root
    a proof also passes for any size whose tree gives the leaf the same path shape. That is why
    the root must come from a signed checkpoint of the claimed size."""
    for index in range(size):
        path = merkle.inclusion_proof(index, LEAVES[:size])
        for other_size in range(index + 1, 40):
            same_shape = sides(index, other_size) == sides(index, size)
            verdict = proofs.verify_inclusion(LEAVES[index], index, other_size, path, ROOTS[size])
            assert verdict == same_shape, (index, size, other_size)
    assert proofs.verify_inclusion(LEAVES[0], 0, 4, merkle.inclusion_proof(0, LEAVES[:3]), ROOTS[3])


def test_inclusion_rejects_impossible_positions() -> None:
    path = merkle.inclusion_proof(0, LEAVES[:1])
    assert proofs.verify_inclusion(LEAVES[0], 0, 1, path, ROOTS[1])
    assert not proofs.verify_inclusion(LEAVES[0], 1, 1, path, ROOTS[1])
    assert not proofs.verify_inclusion(LEAVES[0], 0, 0, path, ROOTS[1])
    assert not proofs.verify_inclusion(LEAVES[0], -1, 1, path, ROOTS[1])
    assert not proofs.verify_inclusion(LEAVES[0], True, 2, [LEAVES[0]], ROOTS[2])


# --- Consistency: tampering -------------------------------------------------------------------


@pytest.mark.parametrize("second", range(2, MAX_SIZE + 1))
def test_tampered_consistency_proofs_are_rejected(second: int) -> None:
    second_root = ROOTS[second]
    for first in range(1, second):
        first_root, proof = ROOTS[first], merkle.consistency_proof(first, LEAVES[:second])
        assert proofs.verify_consistency(first, second, first_root, second_root, proof)
        for position in range(len(proof)):
            for byte in (0, 31):
                bad = [*proof[:position], flipped(proof[position], byte), *proof[position + 1 :]]
                assert not proofs.verify_consistency(first, second, first_root, second_root, bad)
        assert not proofs.verify_consistency(first, second, second_root, first_root, proof)
        assert not proofs.verify_consistency(second, first, second_root, first_root, proof)
        assert not proofs.verify_consistency(first, second, flipped(first_root), second_root, proof)
        assert not proofs.verify_consistency(first, second, first_root, flipped(second_root), proof)
        assert not proofs.verify_consistency(first, second, first_root, second_root, proof[:-1])
        assert not proofs.verify_consistency(first, second, first_root, second_root, proof[1:])
        assert not proofs.verify_consistency(
            first, second, first_root, second_root, [*proof, OTHER]
        )
        assert not proofs.verify_consistency(
            first, second, first_root, second_root, [first_root, *proof]
        )
        assert not proofs.verify_consistency(first, second, first_root, second_root, [])


CROSS_SIZE = 24
ALL_CONSISTENCY_PROOFS = {
    (first, second): merkle.consistency_proof(first, LEAVES[:second])
    for second in range(2, CROSS_SIZE + 1)
    for first in range(1, second)
}


@pytest.mark.parametrize("second", range(2, CROSS_SIZE + 1))
def test_consistency_proof_only_verifies_for_its_own_sizes(second: int) -> None:
    """Against the genuine roots of the claimed sizes, a proof holds only where it is the
    genuine proof for those sizes."""
    for first in range(1, second):
        proof = ALL_CONSISTENCY_PROOFS[(first, second)]
        for (other_first, other_second), genuine_proof in ALL_CONSISTENCY_PROOFS.items():
            verdict = proofs.verify_consistency(
                other_first, other_second, ROOTS[other_first], ROOTS[other_second], proof
            )
            assert verdict == (genuine_proof == proof), (first, second, other_first, other_second)


def test_equal_sizes_need_equal_roots_and_an_empty_proof() -> None:
    for size in (1, 2, 5, 8):
        assert proofs.verify_consistency(size, size, ROOTS[size], ROOTS[size], [])
        assert not proofs.verify_consistency(size, size, ROOTS[size], ROOTS[size], [OTHER])
        assert not proofs.verify_consistency(size, size, ROOTS[size], flipped(ROOTS[size]), [])


def test_empty_first_tree_needs_the_empty_root_and_an_empty_proof() -> None:
    assert proofs.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert proofs.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [])
    assert not proofs.verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    assert not proofs.verify_consistency(0, 5, merkle.EMPTY_ROOT, ROOTS[5], [LEAVES[0]])
    assert not proofs.verify_consistency(0, 0, merkle.EMPTY_ROOT, ROOTS[1], [])


# --- Robustness of the library functions ------------------------------------------------------


@pytest.mark.parametrize(
    "bad_hash", [b"", b"\x00" * 31, b"\x00" * 33, "a" * 32, None, bytearray(32)]
)
def test_verifiers_return_false_for_malformed_hashes(bad_hash: Any) -> None:
    path = merkle.inclusion_proof(1, LEAVES[:4])
    assert not proofs.verify_inclusion(bad_hash, 1, 4, path, ROOTS[4])
    assert not proofs.verify_inclusion(LEAVES[1], 1, 4, path, bad_hash)
    assert not proofs.verify_inclusion(LEAVES[1], 1, 4, [*path[:-1], bad_hash], ROOTS[4])
    proof = merkle.consistency_proof(3, LEAVES[:4])
    assert not proofs.verify_consistency(3, 4, bad_hash, ROOTS[4], proof)
    assert not proofs.verify_consistency(3, 4, ROOTS[3], bad_hash, proof)
    assert not proofs.verify_consistency(3, 4, ROOTS[3], ROOTS[4], [*proof[:-1], bad_hash])


hashes = st.binary(min_size=32, max_size=32)
sizes = st.integers(min_value=-3, max_value=2**70)


@settings(max_examples=300, deadline=None)
@given(hashes, sizes, sizes, st.lists(hashes, max_size=80), hashes)
def test_inclusion_verifier_never_raises(
    leaf: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> None:
    assert proofs.verify_inclusion(leaf, index, size, path, root) in (True, False)


@settings(max_examples=300, deadline=None)
@given(sizes, sizes, hashes, hashes, st.lists(hashes, max_size=80))
def test_consistency_verifier_never_raises(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    assert proofs.verify_consistency(first, second, first_root, second_root, proof) in (True, False)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=2, max_value=MAX_SIZE).flatmap(
        lambda n: st.tuples(
            st.integers(min_value=1, max_value=n - 1), st.just(n), st.integers(min_value=0)
        )
    ),
    st.integers(min_value=0, max_value=31),
    st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_breaks_a_consistency_proof(
    case: tuple[int, int, int], byte: int, mask: int
) -> None:
    first, second, pick = case
    proof = merkle.consistency_proof(first, LEAVES[:second])
    position = pick % len(proof)
    element = bytearray(proof[position])
    element[byte] ^= mask
    bad = [*proof[:position], bytes(element), *proof[position + 1 :]]
    assert not proofs.verify_consistency(first, second, ROOTS[first], ROOTS[second], bad)


# --- Command line -----------------------------------------------------------------------------


def inclusion_document(index: int, size: int) -> dict[str, Any]:
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": b64(LEAVES[index]),
        "audit_path": [b64(p) for p in merkle.inclusion_proof(index, LEAVES[:size])],
        "root_hash": b64(ROOTS[size]),
    }


def consistency_document(first: int, second: int) -> dict[str, Any]:
    return {
        "first": first,
        "second": second,
        "proof": [b64(p) for p in merkle.consistency_proof(first, LEAVES[:second])],
        "first_root": b64(ROOTS[first]),
        "second_root": b64(ROOTS[second]),
    }


def run_cli(tmp_path: Path, kind: str, content: Any, *, raw: bytes | None = None) -> int:
    target = tmp_path / "proof.json"
    target.write_bytes(raw if raw is not None else json.dumps(content).encode())
    return proofs.main([kind, str(target)])


def test_cli_accepts_valid_proofs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "inclusion", inclusion_document(5, 13)) == 0
    assert capsys.readouterr().out.startswith("ok")
    assert run_cli(tmp_path, "consistency", consistency_document(6, 13)) == 0
    assert capsys.readouterr().out.startswith("ok")


def test_cli_ignores_extra_fields_from_the_api(tmp_path: Path) -> None:
    document = {**inclusion_document(2, 7), "event_id": "E-1", "note": None}
    assert run_cli(tmp_path, "inclusion", document) == 0


def test_cli_reports_failed_proofs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = inclusion_document(5, 13)
    document["leaf_index"] = 4
    assert run_cli(tmp_path, "inclusion", document) == 1
    assert capsys.readouterr().out.startswith("failed")
    document = consistency_document(6, 13)
    document["first_root"], document["second_root"] = (
        document["second_root"],
        document["first_root"],
    )
    assert run_cli(tmp_path, "consistency", document) == 1
    assert capsys.readouterr().out.startswith("failed")
    document = inclusion_document(5, 13)
    document["leaf_index"] = 13
    assert run_cli(tmp_path, "inclusion", document) == 1


MALFORMED_INCLUSION = [
    ("not an object", [1, 2, 3]),
    ("null", None),
    ("missing leaf_hash", {k: v for k, v in inclusion_document(1, 4).items() if k != "leaf_hash"}),
    ("missing root", {k: v for k, v in inclusion_document(1, 4).items() if k != "root_hash"}),
    ("index as string", {**inclusion_document(1, 4), "leaf_index": "1"}),
    ("index as float", {**inclusion_document(1, 4), "leaf_index": 1.0}),
    ("index as bool", {**inclusion_document(1, 4), "leaf_index": True}),
    ("negative size", {**inclusion_document(1, 4), "tree_size": -4}),
    ("size beyond uint64", {**inclusion_document(1, 4), "tree_size": 2**64}),
    ("path not a list", {**inclusion_document(1, 4), "audit_path": "abc"}),
    ("path of numbers", {**inclusion_document(1, 4), "audit_path": [1, 2]}),
    ("path of objects", {**inclusion_document(1, 4), "audit_path": [{}]}),
    ("bad base64", {**inclusion_document(1, 4), "leaf_hash": "!!!not base64!!!"}),
    ("unpadded base64", {**inclusion_document(1, 4), "leaf_hash": b64(LEAVES[1]).rstrip("=")}),
    ("non-ascii base64", {**inclusion_document(1, 4), "leaf_hash": "é" * 44}),
    ("short hash", {**inclusion_document(1, 4), "root_hash": b64(b"\x00" * 31)}),
    ("hex instead of base64", {**inclusion_document(1, 4), "root_hash": ROOTS[4].hex()}),
]


@pytest.mark.parametrize(
    ("why", "document"), MALFORMED_INCLUSION, ids=[m[0] for m in MALFORMED_INCLUSION]
)
def test_cli_reports_malformed_inclusion_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], why: str, document: Any
) -> None:
    assert run_cli(tmp_path, "inclusion", document) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("malformed:")
    assert "Traceback" not in captured.err


MALFORMED_CONSISTENCY = [
    ("missing proof", {k: v for k, v in consistency_document(3, 7).items() if k != "proof"}),
    ("missing second", {k: v for k, v in consistency_document(3, 7).items() if k != "second"}),
    ("first as null", {**consistency_document(3, 7), "first": None}),
    ("proof as object", {**consistency_document(3, 7), "proof": {"0": "x"}}),
    ("long hash", {**consistency_document(3, 7), "first_root": b64(b"\x00" * 33)}),
]


@pytest.mark.parametrize(
    ("why", "document"), MALFORMED_CONSISTENCY, ids=[m[0] for m in MALFORMED_CONSISTENCY]
)
def test_cli_reports_malformed_consistency_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], why: str, document: Any
) -> None:
    assert run_cli(tmp_path, "consistency", document) == 2
    assert capsys.readouterr().err.startswith("malformed:")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b'{"leaf_index": NaN}',
        b'{"tree_size": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"tree_size": 1' + b"0" * 5000 + b"}",
    ],
    ids=["empty", "truncated", "not utf-8", "NaN", "Infinity", "deeply nested", "huge integer"],
)
def test_cli_reports_unparseable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes
) -> None:
    assert run_cli(tmp_path, "inclusion", None, raw=raw) == 2
    assert capsys.readouterr().err.startswith("malformed:")


def test_cli_reports_missing_file_and_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert proofs.main(["inclusion", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert proofs.main(["inclusion", str(tmp_path)]) == 2
    assert proofs.main([]) == 2
    assert proofs.main(["checkpoint", "x.json"]) == 2
    assert proofs.main(["inclusion"]) == 2
    assert "usage" in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(consistency_document(4, 9)))
    bad.write_text("{}")
    root = Path(__file__).resolve().parents[3]
    command = [sys.executable, "-m", "infra.ledger.proofs", "consistency"]
    result = subprocess.run(
        [*command, str(good)], cwd=root, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.split(":")[0]) == (0, "ok")
    result = subprocess.run(
        [*command, str(bad)], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_cli_reads_standard_input(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-m", "infra.ledger.proofs", "inclusion", "-"],
        cwd=root,
        input=json.dumps(inclusion_document(3, 6)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- Stand-alone --------------------------------------------------------------------------------


def test_verifier_imports_only_the_standard_library() -> None:
    tree = ast.parse(PROOFS_FILE.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in the stand-alone verifier"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_verifier_works_when_copied_alone(tmp_path: Path) -> None:
    copy = tmp_path / "proofs.py"
    shutil.copy(PROOFS_FILE, copy)
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(inclusion_document(7, 11)))
    result = subprocess.run(
        [sys.executable, "-I", str(copy), "inclusion", str(proof)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
