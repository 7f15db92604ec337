"""Stand-alone verifier for the trial ledger's Merkle proofs (RFC 9162 §2.1.3.2, §2.1.4.2).

Uses the Python standard library only, so an auditor can copy this one file and check
proofs offline:

    python proofs.py inclusion proof.json      # or: python -m infra.ledger.proofs ...
    python proofs.py consistency proof.json    # FILE may be "-" for standard input

Inclusion JSON: {"leaf_index", "tree_size", "leaf_hash", "audit_path": [...], "root_hash"}.
Consistency JSON: {"first", "second", "proof": [...], "first_root", "second_root"}.
Hashes are base64 (32 bytes). Take the root hashes from checkpoints whose Ed25519 signature
you have checked, for the same tree sizes: a proof only binds a leaf or a prefix to a root,
and the signed checkpoint is what binds that root to its tree size.

Exit status: 0 the proof holds, 1 it does not, 2 the input is malformed or unreadable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
from collections.abc import Sequence

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()

USAGE = "usage: python -m infra.ledger.proofs {inclusion|consistency} FILE.json"


class MalformedProofError(ValueError):
    """The proof document cannot be read as the expected JSON shape."""


def verify_inclusion(
    leaf_hash: bytes,
    leaf_index: int,
    tree_size: int,
    audit_path: Sequence[bytes],
    root: bytes,
) -> bool:
    """RFC 9162 §2.1.3.2: does ``audit_path`` lead from ``leaf_hash`` at ``leaf_index`` to
    ``root`` in a tree of ``tree_size`` leaves?"""
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in audit_path)):
        return False
    if not (_is_count(leaf_index) and _is_count(tree_size)):
        return False
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in audit_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (``first_size``, ``first_root``) a prefix of the tree
    (``second_size``, ``second_root``)?

    The RFC algorithm covers 0 < first < second. Outside it the proof must be empty: an
    empty tree (root SHA-256 of "") is a prefix of every tree, and equal sizes need equal roots.
    """
    if not (_is_hash(first_root) and _is_hash(second_root) and all(_is_hash(c) for c in proof)):
        return False
    if not (_is_count(first_size) and _is_count(second_size)) or first_size > second_size:
        return False
    if first_size == 0:
        return (
            not proof
            and first_root == EMPTY_ROOT
            and (second_size > 0 or second_root == EMPTY_ROOT)
        )
    if first_size == second_size:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def check_inclusion_document(document: object) -> bool:
    """Verify an inclusion proof in its JSON shape; raise MalformedProofError if it has none."""
    fields = _require_object(document)
    return verify_inclusion(
        leaf_hash=_hash_field(fields, "leaf_hash"),
        leaf_index=_size_field(fields, "leaf_index"),
        tree_size=_size_field(fields, "tree_size"),
        audit_path=_hash_list_field(fields, "audit_path"),
        root=_hash_field(fields, "root_hash"),
    )


def check_consistency_document(document: object) -> bool:
    """Verify a consistency proof in its JSON shape; raise MalformedProofError if it has none."""
    fields = _require_object(document)
    return verify_consistency(
        first_size=_size_field(fields, "first"),
        second_size=_size_field(fields, "second"),
        first_root=_hash_field(fields, "first_root"),
        second_root=_hash_field(fields, "second_root"),
        proof=_hash_list_field(fields, "proof"),
    )


def load_document(path: str) -> object:
    """Read a JSON document from a file ("-" for standard input)."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except OSError as error:
        raise MalformedProofError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise MalformedProofError(f"{path} is not valid JSON: {error}") from error


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    checks = {"inclusion": check_inclusion_document, "consistency": check_consistency_document}
    if len(args) != 2 or args[0] not in checks:
        print(USAGE, file=sys.stderr)
        return 2
    kind, path = args
    try:
        holds = checks[kind](load_document(path))
    except MalformedProofError as error:
        print(f"malformed: {error}", file=sys.stderr)
        return 2
    print(f"ok: {kind} proof verifies" if holds else f"failed: {kind} proof does not verify")
    return 0 if holds else 1


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _reject_constant(name: str) -> object:
    raise MalformedProofError(f"{name} is not a number")


def _require_object(document: object) -> dict[str, object]:
    if not isinstance(document, dict):
        raise MalformedProofError("the proof must be a JSON object")
    return document


def _field(fields: dict[str, object], name: str) -> object:
    if name not in fields:
        raise MalformedProofError(f"missing field {name!r}")
    return fields[name]


def _size_field(fields: dict[str, object], name: str) -> int:
    value = _field(fields, name)
    if not _is_count(value) or not isinstance(value, int) or value > MAX_TREE_SIZE:
        raise MalformedProofError(f"{name!r} must be an integer from 0 to 2**64 - 1")
    return value


def _decode_hash(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedProofError(f"{what} must be a base64 string")
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise MalformedProofError(f"{what} is not valid base64") from error
    if len(decoded) != HASH_SIZE:
        raise MalformedProofError(f"{what} must decode to {HASH_SIZE} bytes, got {len(decoded)}")
    return decoded


def _hash_field(fields: dict[str, object], name: str) -> bytes:
    return _decode_hash(_field(fields, name), repr(name))


def _hash_list_field(fields: dict[str, object], name: str) -> list[bytes]:
    value = _field(fields, name)
    if not isinstance(value, list):
        raise MalformedProofError(f"{name!r} must be a list of base64 hashes")
    return [_decode_hash(item, f"{name!r}[{i}]") for i, item in enumerate(value)]


if __name__ == "__main__":
    sys.exit(main())
