"""proofs.py: tampered proofs fail, the Ed25519 check agrees with `cryptography` and RFC 8032,
the CLI checks signature and proof with distinct exit codes, never crashes, and the file stands
alone."""

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.ledger import checkpoint_format, merkle, proofs

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


# --- Ed25519 (RFC 8032) --------------------------------------------------------------------------

RFC8032_VECTORS = [  # RFC 8032 §7.1 TEST 1 and TEST 2: (secret, public, message, signature)
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
     "9b46bd25bf5f0595bbe24655141438e7a100b")),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     ("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f"
     "11d8c387b2eaeb4302aeeb00d291612bb0c00")),
]
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_ed25519_verifies_the_rfc_8032_vectors(secret: str, public: str, message: str,
                                               signature: str) -> None:
    key, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    signer = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert checkpoint_format.public_key_raw(signer) == key and signer.sign(msg) == sig
    assert proofs.ed25519_verify(key, msg, sig)
    assert not proofs.ed25519_verify(key, msg + b"\x00", sig)
    assert not proofs.ed25519_verify(key, msg, flipped(sig, 63))


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.text(max_size=200),
       st.integers(min_value=0, max_value=63), st.integers(min_value=0, max_value=7))
def test_ed25519_agrees_with_cryptography(seed: bytes, text: str, byte: int, bit: int) -> None:
    signer = Ed25519PrivateKey.from_private_bytes(seed)
    message = text.encode("utf-8")
    public, signature = checkpoint_format.public_key_raw(signer), signer.sign(message)
    assert proofs.ed25519_verify(public, message, signature)
    bad = bytearray(signature)
    bad[byte] ^= 1 << bit
    assert not proofs.ed25519_verify(public, message, bytes(bad))
    assert not checkpoint_format.verify_checkpoint(public, text, bytes(bad))
    other = checkpoint_format.public_key_raw(Ed25519PrivateKey.generate())
    assert not proofs.ed25519_verify(other, message, signature)
    assert not proofs.ed25519_verify(public, message + b"!", signature)


def test_ed25519_rejects_malleable_and_malformed_inputs() -> None:
    secret, public, _, signature = (bytes.fromhex(v) for v in RFC8032_VECTORS[0])
    s = int.from_bytes(signature[32:], "little")
    malleable = signature[:32] + (s + ED25519_ORDER).to_bytes(32, "little")
    assert not proofs.ed25519_verify(public, b"", malleable)  # S >= L: refused, as RFC 8032
    non_canonical_y = (2**255 - 19 + 1).to_bytes(32, "little")  # y >= p
    assert not proofs.ed25519_verify(non_canonical_y, b"", signature)
    assert not proofs.ed25519_verify(public, b"", non_canonical_y + signature[32:])
    for bad_key, bad_signature in ((public[:31], signature), (public, signature[:63]),
                                   (public + b"\x00", signature), (public, b""),
                                   (public.hex(), signature), (None, signature)):
        assert not proofs.ed25519_verify(bad_key, b"", bad_signature)  # type: ignore[arg-type]
    assert secret  # the vector's secret is not needed to verify


# --- Command line -----------------------------------------------------------------------------

ORIGIN = "trial-ledger"
STAMP = "2026-11-30T12:00:00.000000Z"
SIGNER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"unit test signer").digest())
PUBLIC = checkpoint_format.public_key_raw(SIGNER)
OTHER_SIGNER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"another signer").digest())
OTHER_PUBLIC = checkpoint_format.public_key_raw(OTHER_SIGNER)

# A checkpoint in the old three-line form (no signed time), as stored before the timestamp line
# existed: fixed bytes, signed once with a fixed key. It must keep verifying.
GOLDEN_PUBLIC_KEY = "VMG7ZcDw3gATqU1rG5jAnL0wCiwBH/F7BRJxavm+JQ4="
GOLDEN_OLD_FORM: dict[str, Any] = {
    "origin": "trial-ledger", "tree_size": 3,
    "root_hash": "xaiCars4jCi7+RDpa0EjLkgjhOUFqEqwvYXIjXyPBVM=",
    "timestamp": "2026-01-20T09:30:00.000000Z", "key_id": "967ddc40e7c68d21",
    "body": "trial-ledger\n3\nxaiCars4jCi7+RDpa0EjLkgjhOUFqEqwvYXIjXyPBVM=\n",
    "signature": "obOSnhNAXkgBARRb9Jb9bp3VuOq8S39NFGpeAS56oCL00coLzWRPTMsZdC7yknPzuaayKznWCTsyA1fd"
                 "5SefAQ==",
}


def signed_checkpoint(size: int, *, stamp: str | None = STAMP,
                      signer: Ed25519PrivateKey = SIGNER) -> dict[str, Any]:
    body = checkpoint_format.checkpoint_body(ORIGIN, size, ROOTS[size], stamp)
    public = checkpoint_format.public_key_raw(signer)
    return {"origin": ORIGIN, "tree_size": size, "root_hash": b64(ROOTS[size]),
            "timestamp": stamp or "2026-01-20T09:30:00.000000Z",
            "key_id": checkpoint_format.key_id(public), "body": body,
            "signature": b64(checkpoint_format.sign_body(signer, body))}


def key_document(public: bytes = PUBLIC) -> dict[str, str]:
    return {"key_id": checkpoint_format.key_id(public), "algorithm": "Ed25519",
            "public_key": b64(public)}


def inclusion_document(index: int, size: int, **checkpoint: Any) -> dict[str, Any]:
    """The shape GET /api/v1/ledger/proofs/inclusion returns."""
    return {
        "event_id": f"event-{index}",
        "leaf_index": index,
        "event_hash": EVENTS[index].hex(),
        "leaf_hash": b64(LEAVES[index]),
        "leaf_hash_rule": "SHA-256(0x00 || event_hash)",
        "tree_size": size,
        "root_hash": b64(ROOTS[size]),
        "audit_path": [b64(p) for p in merkle.inclusion_proof(index, LEAVES[:size])],
        "checkpoint": signed_checkpoint(size, **checkpoint),
    }


def consistency_document(first: int, second: int) -> dict[str, Any]:
    """The shape GET /api/v1/ledger/proofs/consistency returns."""
    return {
        "first": first,
        "second": second,
        "first_root": b64(ROOTS[first]),
        "second_root": b64(ROOTS[second]),
        "proof": [b64(p) for p in merkle.consistency_proof(first, LEAVES[:second])],
        "first_checkpoint": signed_checkpoint(first) if first else None,
        "second_checkpoint": signed_checkpoint(second),
    }


def bare_inclusion(index: int, size: int) -> dict[str, Any]:
    document = inclusion_document(index, size)
    return {k: document[k] for k in ("leaf_index", "tree_size", "leaf_hash", "audit_path",
                                     "root_hash")}


def run_cli(tmp_path: Path, kind: str, content: Any, *extra: str, raw: bytes | None = None,
            key: Any = None) -> int:
    target, key_file = tmp_path / "proof.json", tmp_path / "key.json"
    target.write_bytes(raw if raw is not None else json.dumps(content).encode())
    key_file.write_text(json.dumps(key_document() if key is None else key))
    return proofs.main([kind, str(target), "--public-key", str(key_file), *extra])


def with_checkpoint(document: dict[str, Any], name: str = "checkpoint", **changes: Any
                    ) -> dict[str, Any]:
    return {**document, name: {**document[name], **changes}}


def test_cli_accepts_signed_proofs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path, "inclusion", inclusion_document(5, 13)) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: event event-5 (leaf 5, event hash ")
    assert f"signed at {STAMP}" in out and checkpoint_format.key_id(PUBLIC) in out
    assert run_cli(tmp_path, "consistency", consistency_document(6, 13)) == 0
    assert capsys.readouterr().out.startswith("ok: log 'trial-ledger' of 13 events")
    assert run_cli(tmp_path, "checkpoint", signed_checkpoint(13)) == 0
    assert capsys.readouterr().out.startswith("ok: checkpoint of log 'trial-ledger' at 13")


def test_cli_accepts_the_bare_base64_key_and_a_file_holding_it(tmp_path: Path) -> None:
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps(inclusion_document(2, 7)))
    assert proofs.main(["inclusion", str(proof), "--public-key-b64", b64(PUBLIC)]) == 0
    (tmp_path / "key.txt").write_text(b64(PUBLIC) + "\n")
    assert proofs.main(["inclusion", str(proof), "--public-key", str(tmp_path / "key.txt")]) == 0


def test_the_golden_old_form_checkpoint_still_verifies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden_key = {"key_id": "967ddc40e7c68d21", "algorithm": "Ed25519",
                  "public_key": GOLDEN_PUBLIC_KEY}
    assert run_cli(tmp_path, "checkpoint", GOLDEN_OLD_FORM, key=golden_key) == 0
    assert "old-form checkpoint: its time is not signed" in capsys.readouterr().out
    proof = {**bare_inclusion(1, 3), "checkpoint": GOLDEN_OLD_FORM}
    assert run_cli(tmp_path, "inclusion", proof, key=golden_key) == 0
    assert "its time is not signed" in capsys.readouterr().out
    # its unsigned timestamp field may say anything; its signed lines may not change
    assert run_cli(tmp_path, "checkpoint", {**GOLDEN_OLD_FORM, "timestamp": "x"},
                   key=golden_key) == 0
    grown = {**GOLDEN_OLD_FORM, "body": GOLDEN_OLD_FORM["body"].replace("\n3\n", "\n4\n")}
    assert run_cli(tmp_path, "checkpoint", grown, key=golden_key) == proofs.EXIT_BAD_SIGNATURE
    stamped = {**GOLDEN_OLD_FORM, "body": GOLDEN_OLD_FORM["body"] + f"timestamp: {STAMP}\n"}
    assert run_cli(tmp_path, "checkpoint", stamped, key=golden_key) == proofs.EXIT_BAD_SIGNATURE
    assert run_cli(tmp_path, "checkpoint", GOLDEN_OLD_FORM) == proofs.EXIT_WRONG_KEY


def test_cli_reports_failed_proofs_with_exit_1(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad_proofs = {
        "another index": {**inclusion_document(5, 13), "leaf_index": 4},
        "index beyond the tree": {**inclusion_document(5, 13), "leaf_index": 13},
        "flipped audit path": {**inclusion_document(5, 13), "audit_path": [
            b64(flipped(LEAVES[0]))] + inclusion_document(5, 13)["audit_path"][1:]},
        "another leaf": {**inclusion_document(5, 13), "leaf_hash": b64(LEAVES[4]),
                         "event_hash": EVENTS[4].hex()},
        "leaf not from its event hash": {**inclusion_document(5, 13),
                                         "event_hash": EVENTS[4].hex()},
        "size other than signed": {**inclusion_document(5, 13), "tree_size": 14},
        "root other than signed": {**inclusion_document(5, 13), "root_hash": b64(ROOTS[12])},
        "proof of an older tree": {**inclusion_document(5, 12),
                                   "checkpoint": signed_checkpoint(13)},
    }
    for name, document in bad_proofs.items():
        assert run_cli(tmp_path, "inclusion", document) == 1, name
        assert capsys.readouterr().err.startswith("bad proof: "), name
    swapped = consistency_document(6, 13)
    swapped["proof"] = swapped["proof"][::-1]
    bad_consistency = {
        "reversed proof": swapped,
        "first root not the signed one": {**consistency_document(6, 13),
                                          "first_root": b64(ROOTS[5])},
        "older checkpoint of another size": {**consistency_document(6, 13),
                                             "first_checkpoint": signed_checkpoint(5)},
        "newer checkpoint of another size": {**consistency_document(6, 13),
                                             "second_checkpoint": signed_checkpoint(12)},
    }
    for name, document in bad_consistency.items():
        assert run_cli(tmp_path, "consistency", document) == 1, name
        assert capsys.readouterr().err.startswith("bad proof: "), name


def test_a_tampered_checkpoint_is_a_bad_signature_exit_3(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = inclusion_document(5, 13)
    body = good["checkpoint"]["body"]
    later = body.replace(STAMP, "2026-12-01T12:00:00.000000Z")
    tampered = {
        "timestamp changed in the body": with_checkpoint(good, body=later,
                                                         timestamp="2026-12-01T12:00:00.000000Z"),
        "size changed in the body": with_checkpoint(good, body=body.replace("\n13\n", "\n14\n")),
        "timestamp line removed": with_checkpoint(good, body=body.split("timestamp")[0]),
        "flipped signature": with_checkpoint(good, signature=b64(flipped(base64.b64decode(
            good["checkpoint"]["signature"]), 5))),
        "timestamp field disagrees": with_checkpoint(good, timestamp="2027-01-01T00:00:00.000000Z"),
        "size field disagrees": with_checkpoint(good, tree_size=12),
    }
    for name, document in tampered.items():
        assert run_cli(tmp_path, "inclusion", document) == proofs.EXIT_BAD_SIGNATURE, name
        assert capsys.readouterr().err.startswith("bad signature: "), name
    newer = with_checkpoint(consistency_document(6, 13), "second_checkpoint",
                            body=consistency_document(6, 13)["second_checkpoint"]["body"]
                            .replace(STAMP, "2026-11-30T12:00:00.000001Z"))
    assert run_cli(tmp_path, "consistency", newer) == proofs.EXIT_BAD_SIGNATURE
    older = with_checkpoint(consistency_document(6, 13), "first_checkpoint",
                            signature=b64(bytes(64)))
    assert run_cli(tmp_path, "consistency", older) == proofs.EXIT_BAD_SIGNATURE
    assert "older checkpoint's signature" in capsys.readouterr().err


def test_another_key_is_a_wrong_key_exit_4(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    signed_elsewhere = inclusion_document(5, 13, signer=OTHER_SIGNER)
    assert run_cli(tmp_path, "inclusion", signed_elsewhere) == proofs.EXIT_WRONG_KEY
    err = capsys.readouterr().err
    assert err.startswith("wrong key: ") and checkpoint_format.key_id(OTHER_PUBLIC) in err
    assert run_cli(tmp_path, "inclusion", inclusion_document(5, 13),
                   key=key_document(OTHER_PUBLIC)) == proofs.EXIT_WRONG_KEY
    assert run_cli(tmp_path, "consistency", consistency_document(6, 13),
                   key=key_document(OTHER_PUBLIC)) == proofs.EXIT_WRONG_KEY
    # another signer claiming the pinned key's id is caught by the signature itself
    claimed = with_checkpoint(signed_elsewhere, key_id=checkpoint_format.key_id(PUBLIC))
    assert run_cli(tmp_path, "inclusion", claimed) == proofs.EXIT_BAD_SIGNATURE


def test_a_kept_checkpoint_or_root_can_replace_the_answers(tmp_path: Path) -> None:
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps(signed_checkpoint(13)))
    unsigned = {**inclusion_document(5, 13), "checkpoint": None}
    assert run_cli(tmp_path, "inclusion", unsigned) == 2
    assert run_cli(tmp_path, "inclusion", unsigned, "--checkpoint", str(kept)) == 0
    older = tmp_path / "older.json"
    older.write_text(json.dumps(signed_checkpoint(6)))
    bare = {**consistency_document(6, 13), "first_checkpoint": None}
    assert run_cli(tmp_path, "consistency", bare) == 2
    assert run_cli(tmp_path, "consistency", bare, "--first-checkpoint", str(older)) == 0
    assert run_cli(tmp_path, "consistency", bare, "--first-root", b64(ROOTS[6])) == 0
    assert run_cli(tmp_path, "consistency", bare, "--first-root", b64(ROOTS[7])) == 1
    assert run_cli(tmp_path, "consistency", consistency_document(6, 13),
                   "--first-root", b64(ROOTS[5])) == 1
    assert run_cli(tmp_path, "consistency", consistency_document(0, 13)) == 0


def test_event_hash_binds_the_proof_to_the_event_you_wrote(tmp_path: Path) -> None:
    document = inclusion_document(5, 13)
    assert run_cli(tmp_path, "inclusion", document, "--event-hash", EVENTS[5].hex()) == 0
    assert run_cli(tmp_path, "inclusion", document, "--event-hash", EVENTS[4].hex()) == 1
    assert run_cli(tmp_path, "inclusion", document, "--event-hash", "abc") == 2


MALFORMED_INCLUSION = [
    ("not an object", [1, 2, 3]),
    ("null", None),
    ("missing leaf_hash", {k: v for k, v in inclusion_document(1, 4).items() if k != "leaf_hash"}),
    ("missing checkpoint", {k: v for k, v in inclusion_document(1, 4).items()
                            if k != "checkpoint"}),
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
    ("event hash in base64", {**inclusion_document(1, 4), "event_hash": b64(EVENTS[1])}),
    ("checkpoint not an object", {**inclusion_document(1, 4), "checkpoint": "signed"}),
    ("checkpoint without body", {**inclusion_document(1, 4), "checkpoint": {
        k: v for k, v in signed_checkpoint(4).items() if k != "body"}}),
    ("short signature", with_checkpoint(inclusion_document(1, 4), signature=b64(bytes(63)))),
    ("unknown extension line", with_checkpoint(
        inclusion_document(1, 4), body=signed_checkpoint(4)["body"] + "note: hi\n")),
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
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


MALFORMED_CONSISTENCY = [
    ("missing proof", {k: v for k, v in consistency_document(3, 7).items() if k != "proof"}),
    ("missing second", {k: v for k, v in consistency_document(3, 7).items() if k != "second"}),
    ("first as null", {**consistency_document(3, 7), "first": None}),
    ("proof as object", {**consistency_document(3, 7), "proof": {"0": "x"}}),
    ("long hash", {**consistency_document(3, 7), "first_root": b64(b"\x00" * 33)}),
    ("no newer checkpoint", {**consistency_document(3, 7), "second_checkpoint": None}),
    ("nothing vouches for the older root", {**consistency_document(3, 7),
                                           "first_checkpoint": None}),
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


@pytest.mark.parametrize("key", [
    {"algorithm": "Ed25519"},
    {"algorithm": "RSA", "public_key": b64(PUBLIC)},
    {**key_document(), "key_id": "0" * 16},
    {**key_document(), "public_key": b64(PUBLIC[:31])},
    "not base64!",
])
def test_cli_reports_malformed_public_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           key: Any) -> None:
    proof, key_file = tmp_path / "proof.json", tmp_path / "key.json"
    proof.write_text(json.dumps(inclusion_document(1, 4)))
    key_file.write_text(key if isinstance(key, str) else json.dumps(key))
    assert proofs.main(["inclusion", str(proof), "--public-key", str(key_file)]) == 2
    assert capsys.readouterr().err.startswith("malformed:")


def test_cli_reports_missing_file_and_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(tmp_path, "inclusion", None, raw=b"{}") == 2
    key = ["--public-key-b64", b64(PUBLIC)]
    assert proofs.main(["inclusion", str(tmp_path / "absent.json"), *key]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert proofs.main(["inclusion", str(tmp_path), *key]) == 2
    assert proofs.main(["inclusion", str(tmp_path / "x.json"), "--public-key",
                        str(tmp_path / "absent-key.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert proofs.main([]) == 2
    assert proofs.main(["audit", "x.json", *key]) == 2
    assert proofs.main(["inclusion", *key]) == 2
    assert proofs.main(["inclusion", "x.json"]) == 2  # no pinned key: nothing to trust
    assert "--public-key" in capsys.readouterr().err


def test_help_explains_each_subcommand_what_a_pass_proves_and_the_exit_codes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert proofs.main(["--help"]) == 0
    text = capsys.readouterr().out
    for needed in ("inclusion FILE", "consistency FILE", "checkpoint FILE", "A pass proves",
                   "GET /api/v1/ledger/public-key", "--event-hash", "exit status",
                   "3  bad signature", "4  wrong key", "1  bad proof", "2  malformed"):
        assert needed in text, needed
    assert proofs.main(["consistency", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--first-checkpoint" in text and "--first-root" in text and "--public-key" in text


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    good, bad, key = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "key.json"
    good.write_text(json.dumps(consistency_document(4, 9)))
    bad.write_text("{}")
    key.write_text(json.dumps(key_document()))
    root = Path(__file__).resolve().parents[3]
    command = [sys.executable, "-m", "infra.ledger.proofs", "consistency"]
    result = subprocess.run(
        [*command, str(good), "--public-key", str(key)], cwd=root, capture_output=True,
        text=True, check=False
    )
    assert (result.returncode, result.stdout.split(":")[0]) == (0, "ok"), result.stderr
    result = subprocess.run(
        [*command, str(bad), "--public-key", str(key)], cwd=root, capture_output=True,
        text=True, check=False
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_cli_reads_standard_input(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-m", "infra.ledger.proofs", "inclusion", "-",
         "--public-key-b64", b64(PUBLIC)],
        cwd=root,
        input=json.dumps(inclusion_document(3, 6)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_bare_document_checks_still_hold() -> None:
    assert proofs.check_inclusion_document(bare_inclusion(5, 13))
    assert not proofs.check_inclusion_document({**bare_inclusion(5, 13), "leaf_index": 4})
    document = consistency_document(6, 13)
    assert proofs.check_consistency_document(document)
    assert not proofs.check_consistency_document({**document, "first_root": b64(ROOTS[5])})
    with pytest.raises(proofs.MalformedProofError, match="root_hash"):
        proofs.check_inclusion_document({k: v for k, v in bare_inclusion(1, 4).items()
                                         if k != "root_hash"})


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
    proof, key = tmp_path / "proof.json", tmp_path / "key.json"
    proof.write_text(json.dumps(inclusion_document(7, 11)))
    key.write_text(json.dumps(key_document()))
    result = subprocess.run(
        [sys.executable, "-I", str(copy), "inclusion", str(proof), "--public-key", str(key)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
