"""Stand-alone verifier for the trial ledger's signed checkpoints and Merkle proofs.

An auditor copies this one file and checks, with no database and no network, a proof answer
saved exactly as the API returned it:

    python proofs.py inclusion   proof.json   --public-key key.json
    python proofs.py consistency proof.json   --public-key key.json
    python proofs.py checkpoint  checkpoint.json --public-key key.json
    # or: python -m infra.ledger.proofs ...    FILE may be "-" for standard input

`key.json` is GET /api/v1/ledger/public-key saved once and kept (pinned); `--public-key-b64`
takes the base64 key itself. A check passes (exit 0) only when the signed checkpoint verifies
with the pinned key AND the proof leads to the root that checkpoint signs: a proof alone only
binds a leaf or a prefix to a root; the signature is what binds that root to the log.

Inclusion answer: {"event_id", "leaf_index", "event_hash" (hex), "leaf_hash", "tree_size",
"root_hash", "audit_path": [...], "checkpoint": {...}}. Consistency answer: {"first",
"second", "first_root", "second_root", "proof": [...], "first_checkpoint": {...} | null,
"second_checkpoint": {...}}. A checkpoint is {"origin", "tree_size", "root_hash",
"timestamp", "key_id", "body", "signature"}; only its `body` is signed, the other fields must
agree with it. Hashes and signatures are base64, except `event_hash`/`prev_hash` (hex, as the
API returns an event's `hash` when it is written).

Checkpoint body (the signed text; a checkpoint in the transparency-log "signed note" form):
origin, tree size, base64 root hash, then the extension line `timestamp: <RFC 3339 UTC>`,
each ended by a newline. Checkpoints issued before the timestamp line was added have only the
first three lines: they still verify, and the verifier says that their time is not signed.

Why Ed25519 is implemented here (RFC 8032 §5.1.7, verification only, after the RFC's §6
reference code) rather than imported from `cryptography`: the file must run on any Python 3.11+
with nothing installed, copied alone, so that an auditor need not trust a package index or
the server's environment to check the server. Verification handles only public data (key,
message, signature), so the constant-time concerns of signing do not arise; the tests check
this code against `cryptography` and the RFC 8032 test vectors.

Exit status: 0 the signature and the proof hold; 1 bad proof (the proof does not lead to the
signed root, or does not match the checkpoint); 2 malformed, incomplete or unreadable input,
or bad usage; 3 bad signature (the checkpoint is not what the pinned key signed: body,
signature or a field altered); 4 wrong key (the checkpoint names another signing key).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

HASH_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()
TIMESTAMP_PREFIX = "timestamp: "
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z",
                        re.ASCII)

EXIT_OK = 0
EXIT_BAD_PROOF = 1
EXIT_MALFORMED = 2
EXIT_BAD_SIGNATURE = 3
EXIT_WRONG_KEY = 4


class VerificationFailure(Exception):
    """A check did not pass; ``exit_code`` and ``label`` say which kind of failure."""

    exit_code = EXIT_BAD_PROOF
    label = "bad proof"


class ProofFailed(VerificationFailure):
    """The proof does not lead to the signed root, or does not match the checkpoint."""


class MalformedProofError(VerificationFailure, ValueError):
    """The input cannot be read as the expected JSON shape, or lacks what a check needs."""

    exit_code = EXIT_MALFORMED
    label = "malformed"


class BadSignature(VerificationFailure):
    """The checkpoint is not what the pinned key signed."""

    exit_code = EXIT_BAD_SIGNATURE
    label = "bad signature"


class WrongKey(VerificationFailure):
    """The checkpoint says another key signed it."""

    exit_code = EXIT_WRONG_KEY
    label = "wrong key"


# -- Merkle proofs (RFC 9162) --------------------------------------------------------------------


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


def leaf_hash_of(event_hash: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf: SHA-256(0x00 || event_hash), the event's 32-byte chain hash."""
    return hashlib.sha256(b"\x00" + event_hash).digest()


# -- Ed25519 verification (RFC 8032 §5.1.7) -----------------------------------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


def _point_add(p: _Point, q: _Point) -> _Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f, g * h, f * g, e * h


def _point_mul(scalar: int, point: _Point) -> _Point:
    result: _Point = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        scalar >>= 1
    return result


def _point_equal(p: _Point, q: _Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _point_decompress(encoded: bytes) -> _Point | None:
    y = int.from_bytes(encoded, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G_X = _recover_x(_G_Y, 0) or 0
_G: _Point = (_G_X, _G_Y, 1, _G_X * _G_Y % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 §5.1.7: is ``signature`` the holder of ``public_key``'s Ed25519 signature
    over ``message``? Non-canonical encodings and S >= L are rejected."""
    if not (isinstance(public_key, bytes) and isinstance(signature, bytes)
            and isinstance(message, bytes)):
        return False
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    a = _point_decompress(public_key)
    r = _point_decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(),
                       "little") % _L
    return _point_equal(_point_mul(s, _G), _point_add(r, _point_mul(k, a)))


def key_id(public_key: bytes) -> str:
    """Hex of the first 8 bytes of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(public_key).digest()[:8].hex()


# -- checkpoint bodies (the signed text) --------------------------------------------------------


@dataclass(frozen=True)
class CheckpointBody:
    """The signed statement: log ``origin`` had ``tree_size`` leaves with ``root_hash``, at
    ``timestamp`` (None for the old three-line form, whose time was not signed)."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: str | None = None


def format_checkpoint_body(origin: str, tree_size: int, root_hash: bytes,
                           timestamp: str | None = None) -> str:
    """The exact text a checkpoint signature covers; refuses values it could not parse back."""
    _check_origin(origin)
    if not _is_count(tree_size) or tree_size > MAX_TREE_SIZE:
        raise MalformedProofError(
            f"tree size must be an integer from 0 to 2**64 - 1, got {tree_size!r}")
    if not _is_hash(root_hash):
        raise MalformedProofError(f"root hash must be {HASH_SIZE} bytes")
    lines = [origin, str(tree_size), base64.b64encode(root_hash).decode("ascii")]
    if timestamp is not None:
        _check_timestamp(timestamp)
        lines.append(TIMESTAMP_PREFIX + timestamp)
    return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(body: str) -> CheckpointBody:
    """Read checkpoint text, accepting only the forms ``format_checkpoint_body`` writes."""
    if not isinstance(body, str):
        raise MalformedProofError("checkpoint body must be a string")
    if not body.endswith("\n"):
        raise MalformedProofError("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) not in (3, 4):
        raise MalformedProofError(
            "checkpoint body must have 3 lines (origin, tree size, root hash) and at most one "
            f"extension line ({TIMESTAMP_PREFIX}...), got {len(lines)} lines")
    origin, size_text, root_text = lines[:3]
    _check_origin(origin)
    if not (size_text.isascii() and size_text.isdigit()) or (
        size_text.startswith("0") and size_text != "0"
    ):
        raise MalformedProofError(
            f"tree size must be a decimal integer without sign or padding: {size_text!r}")
    if int(size_text) > MAX_TREE_SIZE:
        raise MalformedProofError(f"tree size {size_text} is beyond 2**64 - 1")
    try:
        root_hash = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise MalformedProofError(f"root hash is not valid base64: {root_text!r}") from error
    if len(root_hash) != HASH_SIZE:
        raise MalformedProofError(
            f"root hash must decode to {HASH_SIZE} bytes, got {len(root_hash)}")
    if base64.b64encode(root_hash).decode("ascii") != root_text:
        raise MalformedProofError(f"root hash is not in canonical base64: {root_text!r}")
    timestamp = None
    if len(lines) == 4:
        extension = lines[3]
        if not extension.startswith(TIMESTAMP_PREFIX):
            raise MalformedProofError(f"unknown checkpoint extension line: {extension!r}")
        timestamp = extension[len(TIMESTAMP_PREFIX):]
        _check_timestamp(timestamp)
    return CheckpointBody(origin, int(size_text), root_hash, timestamp)


def _check_origin(origin: str) -> None:
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise MalformedProofError("origin must be a non-empty string without newlines")


def _check_timestamp(timestamp: str) -> None:
    problem = (f"timestamp must be UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ, got {timestamp!r}")
    if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
        raise MalformedProofError(problem)
    try:
        datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise MalformedProofError(problem) from None


# -- checking saved answers ---------------------------------------------------------------------


def authenticate_checkpoint(document: object, public_key: bytes,
                            what: str = "checkpoint") -> CheckpointBody:
    """The signed body of a saved checkpoint, once its signature verifies with the pinned
    ``public_key`` and its unsigned fields agree with the body; else BadSignature, WrongKey or
    MalformedProofError."""
    fields = _require_object(document, what)
    body = _field(fields, "body", what)
    if not isinstance(body, str):
        raise MalformedProofError(f"{what}: 'body' must be a string")
    signature = _decode_b64(_field(fields, "signature", what), f"{what}: 'signature'",
                            SIGNATURE_SIZE)
    try:
        signed = parse_checkpoint_body(body)
    except MalformedProofError as error:
        raise MalformedProofError(f"{what}: {error}") from None
    pinned = key_id(public_key)
    claimed = fields.get("key_id")
    if claimed is not None and claimed != pinned:
        raise WrongKey(f"the {what} says it was signed by key {claimed!s:.40}, not by the "
                       f"pinned key {pinned}: it comes from another signer (or the key was "
                       "rotated: pin the new key only if you trust how you received it)")
    if not ed25519_verify(public_key, body.encode("utf-8"), signature):
        raise BadSignature(f"the {what}'s signature does not verify with the pinned key "
                           f"{pinned}: its signed body or its signature was altered")
    claims = {"origin": signed.origin, "tree_size": signed.tree_size,
              "root_hash": base64.b64encode(signed.root_hash).decode("ascii")}
    if signed.timestamp is not None:
        claims["timestamp"] = signed.timestamp
    for name, value in claims.items():
        if name in fields and fields[name] != value:
            raise BadSignature(f"the {what}'s {name} field ({fields[name]!s:.60}) is not what "
                               f"its signed body says ({value}): the file was altered")
    return signed


def check_checkpoint(document: object, public_key: bytes) -> str:
    """A saved checkpoint on its own: the one-line verdict, or a VerificationFailure."""
    signed = authenticate_checkpoint(document, public_key)
    return (f"ok: checkpoint of log {signed.origin!r} at {signed.tree_size} events, root "
            f"{_short(signed.root_hash)}, {_when(signed)}, verifies with the pinned key "
            f"{key_id(public_key)}")


def check_inclusion(document: object, public_key: bytes, *,
                    checkpoint: object | None = None,
                    event_hash: bytes | None = None) -> str:
    """A saved inclusion answer: its checkpoint (or ``checkpoint``, one you kept) verifies
    with ``public_key`` and its audit path leads from the leaf to that signed root. With
    ``event_hash`` (the hash your system received when it wrote the event), the leaf must be
    that event's. Returns the one-line verdict; raises a VerificationFailure."""
    fields = _require_object(document, "the proof")
    leaf = _hash_field(fields, "leaf_hash")
    index = _size_field(fields, "leaf_index")
    size = _size_field(fields, "tree_size")
    path = _hash_list_field(fields, "audit_path")
    claimed_root = _hash_field(fields, "root_hash") if "root_hash" in fields else None
    stated_event = _hex_hash_field(fields, "event_hash") if "event_hash" in fields else None
    signed_document = checkpoint if checkpoint is not None else fields.get("checkpoint")
    if signed_document is None:
        raise MalformedProofError(
            f"the answer carries no signed checkpoint of tree size {size} (none is stored at "
            "that size): pass --checkpoint FILE with a checkpoint of that size you kept")
    signed = authenticate_checkpoint(signed_document, public_key)
    if stated_event is not None and leaf_hash_of(stated_event) != leaf:
        raise ProofFailed("the leaf_hash is not SHA-256(0x00 || event_hash): the answer's "
                          "leaf was altered")
    if event_hash is not None and leaf_hash_of(event_hash) != leaf:
        raise ProofFailed(f"the proven leaf is not the event whose hash you gave "
                          f"({event_hash.hex()[:16]}...)")
    if signed.tree_size != size:
        raise ProofFailed(f"the proof is for a tree of {size} leaves but the checkpoint signs "
                          f"{signed.tree_size}")
    if claimed_root is not None and claimed_root != signed.root_hash:
        raise ProofFailed("the proof's root_hash is not the root the checkpoint signs")
    if not verify_inclusion(leaf, index, size, path, signed.root_hash):
        raise ProofFailed(f"the audit path does not lead from leaf {index} to the signed root "
                          f"of the tree of {size} leaves: the proof or the leaf was altered")
    name = fields.get("event_id")
    label = f"event {name!s:.60} " if isinstance(name, str) else ""
    hashed = stated_event or event_hash
    what = f"{label}(leaf {index}" + (f", event hash {hashed.hex()[:16]}...)" if hashed
                                      else ")")
    return (f"ok: {what} is in log {signed.origin!r} of {size} events, whose checkpoint "
            f"({_when(signed)}) verifies with the pinned key {key_id(public_key)}")


def check_consistency(document: object, public_key: bytes, *,
                      first_checkpoint: object | None = None,
                      second_checkpoint: object | None = None,
                      first_root: bytes | None = None) -> str:
    """A saved consistency answer: the newer checkpoint verifies with ``public_key``, the
    older root is vouched for (a signed checkpoint of that size, or ``first_root`` you kept),
    and the proof shows the older tree is a prefix of the newer. Returns the verdict line."""
    fields = _require_object(document, "the proof")
    first = _size_field(fields, "first")
    second = _size_field(fields, "second")
    proof = _hash_list_field(fields, "proof")
    stated_first = _hash_field(fields, "first_root") if "first_root" in fields else None
    stated_second = _hash_field(fields, "second_root") if "second_root" in fields else None
    newer = second_checkpoint if second_checkpoint is not None else fields.get(
        "second_checkpoint")
    if newer is None:
        raise MalformedProofError(
            f"the answer carries no signed checkpoint of tree size {second}: pass "
            "--second-checkpoint FILE with a checkpoint of that size you kept")
    older = first_checkpoint if first_checkpoint is not None else fields.get("first_checkpoint")
    if older is None and first_root is None and first != 0:
        raise MalformedProofError(
            f"nothing vouches for the older root of tree size {first}: the answer carries no "
            "signed checkpoint of that size; pass --first-checkpoint FILE or --first-root "
            "BASE64 (the root you kept)")
    signed_second = authenticate_checkpoint(newer, public_key, "newer checkpoint")
    signed_first = (None if older is None
                    else authenticate_checkpoint(older, public_key, "older checkpoint"))
    if signed_second.tree_size != second:
        raise ProofFailed(f"the proof is for a newer tree of {second} leaves but the newer "
                          f"checkpoint signs {signed_second.tree_size}")
    if stated_second is not None and stated_second != signed_second.root_hash:
        raise ProofFailed("the proof's second_root is not the root the newer checkpoint signs")
    vouched: list[tuple[str, bytes]] = []
    if first == 0:
        vouched.append(("the empty tree's root", EMPTY_ROOT))
    if signed_first is not None:
        if signed_first.tree_size != first:
            raise ProofFailed(f"the proof is for an older tree of {first} leaves but the older "
                              f"checkpoint signs {signed_first.tree_size}")
        if signed_first.origin != signed_second.origin:
            raise ProofFailed(f"the checkpoints are of different logs ({signed_first.origin!r}"
                              f" and {signed_second.origin!r})")
        vouched.append(("the older checkpoint's root", signed_first.root_hash))
    if first_root is not None:
        vouched.append(("the root you gave", first_root))
    root = vouched[0][1]
    for name, other in vouched[1:]:
        if other != root:
            raise ProofFailed(f"{name} differs from {vouched[0][0]}: they are not the same "
                              f"tree of {first} leaves")
    if stated_first is not None and stated_first != root:
        raise ProofFailed(f"the proof's first_root is not {vouched[0][0]}")
    if not verify_consistency(first, second, root, signed_second.root_hash, proof):
        raise ProofFailed(f"the proof does not show the tree of {first} leaves to be a prefix "
                          f"of the signed tree of {second}: the proof or a root was altered, "
                          "or the log was rewritten")
    source = ("the older checkpoint" if signed_first is not None
              else "the root you gave" if first_root is not None else "the empty tree")
    older_when = f" ({_when(signed_first)})" if signed_first is not None else ""
    return (f"ok: log {signed_second.origin!r} of {second} events ({_when(signed_second)}) "
            f"extends the tree of {first} events vouched for by {source}{older_when}: it was "
            f"only appended to; signatures verify with the pinned key {key_id(public_key)}")


def check_inclusion_document(document: object) -> bool:
    """The bare proof check (no signature): does the document's audit path lead to its
    ``root_hash``? Raise MalformedProofError if it has no such shape."""
    fields = _require_object(document, "the proof")
    return verify_inclusion(
        leaf_hash=_hash_field(fields, "leaf_hash"),
        leaf_index=_size_field(fields, "leaf_index"),
        tree_size=_size_field(fields, "tree_size"),
        audit_path=_hash_list_field(fields, "audit_path"),
        root=_hash_field(fields, "root_hash"),
    )


def check_consistency_document(document: object) -> bool:
    """The bare proof check (no signature) between the document's ``first_root`` and
    ``second_root``; raise MalformedProofError if it has no such shape."""
    fields = _require_object(document, "the proof")
    return verify_consistency(
        first_size=_size_field(fields, "first"),
        second_size=_size_field(fields, "second"),
        first_root=_hash_field(fields, "first_root"),
        second_root=_hash_field(fields, "second_root"),
        proof=_hash_list_field(fields, "proof"),
    )


def load_public_key(text: str) -> bytes:
    """A pinned key: the JSON of GET /api/v1/ledger/public-key, or the bare base64 key."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as error:
            raise MalformedProofError(f"the public key file is not valid JSON: {error}") from None
        fields = _require_object(document, "the public key file")
        algorithm = fields.get("algorithm", "Ed25519")
        if algorithm != "Ed25519":
            raise MalformedProofError(f"the public key is {algorithm!s:.40}, not Ed25519")
        raw = _decode_b64(_field(fields, "public_key", "the public key file"),
                          "the public key", PUBLIC_KEY_SIZE)
        if "key_id" in fields and fields["key_id"] != key_id(raw):
            raise MalformedProofError("the public key file's key_id does not match its "
                                      "public_key: the file was altered")
        return raw
    return _decode_b64(stripped, "the public key", PUBLIC_KEY_SIZE)


def load_document(path: str) -> object:
    """Read a JSON document from a file ("-" for standard input)."""
    return _parse_json(_read(path), path)


# -- command line --------------------------------------------------------------------------------

PASSES = {
    "inclusion": """\
An answer of GET /api/v1/ledger/proofs/inclusion. A pass proves: the leaf (the event whose
chain hash is `event_hash`, the `hash` returned when it was written) is leaf `leaf_index` of
the log whose checkpoint of `tree_size` events the pinned key signed (at the signed time, for
checkpoints that carry one). `event_id` is the server's label: give --event-hash HEX, the hash
your system received at write time, to bind the proof to your event. --checkpoint FILE checks
against a checkpoint of that size you kept instead of the answer's.""",
    "consistency": """\
An answer of GET /api/v1/ledger/proofs/consistency. A pass proves: the log the pinned key
signed at `second` events starts with exactly the tree of `first` events vouched for by a
signed checkpoint of that size (the answer's, or --first-checkpoint FILE) or by --first-root
(the root you kept): nothing recorded before was changed, removed or reordered in between.""",
    "checkpoint": """\
A checkpoint (GET /api/v1/ledger/checkpoints/latest, or POST /api/v1/ledger/checkpoints). A
pass proves: the pinned key signed this origin, tree size, root hash (and time, when the body
carries its `timestamp:` line).""",
}
SUMMARIES = {"inclusion": "check an inclusion proof answer",
             "consistency": "check a consistency proof answer",
             "checkpoint": "check a saved checkpoint's signature"}

DESCRIPTION = """\
Check a proof saved from the trial ledger's API, offline, against a public key you pinned.

Save the signing key once, from a source you trust, and keep it:
  GET /api/v1/ledger/public-key > key.json
Then save any answer exactly as returned and check it:
  GET /api/v1/ledger/proofs/inclusion?event_id=ID > proof.json
  python -m infra.ledger.proofs inclusion proof.json --public-key key.json

""" + "\n\n".join(f"{kind} FILE:\n{text}" for kind, text in PASSES.items()) + """

FILE may be "-" for standard input. Only the checkpoint's `body` is signed (origin, tree size,
root hash, and for checkpoints issued since the timestamp line was added, `timestamp: ...`);
its other fields must agree with it. A checkpoint without the timestamp line still verifies,
and the verdict says its time is not signed. This file needs only the Python standard library.
"""

EPILOG = """\
exit status:
  0  the checkpoint signature and the proof both hold
  1  bad proof: the proof does not lead to the signed root, or does not match the checkpoint
  2  malformed, incomplete or unreadable input, or bad usage
  3  bad signature: the checkpoint is not what the pinned key signed (altered body,
     signature or field)
  4  wrong key: the checkpoint names another signing key than the pinned one
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.ledger.proofs", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="kind", metavar="{inclusion,consistency,checkpoint}")
    commands.required = True
    for kind, summary in SUMMARIES.items():
        sub = commands.add_parser(kind, help=summary, description=PASSES[kind], epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("file", metavar="FILE", help="the saved JSON answer, or - for stdin")
        key = sub.add_mutually_exclusive_group(required=True)
        key.add_argument("--public-key", metavar="KEY.json",
                         help="the pinned key: GET /api/v1/ledger/public-key saved as JSON "
                              "(or a file holding the base64 key)")
        key.add_argument("--public-key-b64", metavar="BASE64",
                         help="the pinned key as base64 of its 32 raw bytes")
        if kind == "inclusion":
            sub.add_argument("--checkpoint", metavar="FILE",
                             help="a checkpoint you kept, to check against instead of the one "
                                  "in the answer (same tree size)")
            sub.add_argument("--event-hash", metavar="HEX",
                             help="the event's hash as returned when it was written: the "
                                  "proven leaf must be that event")
        if kind == "consistency":
            sub.add_argument("--first-checkpoint", metavar="FILE",
                             help="the older checkpoint you kept (tree size `first`)")
            sub.add_argument("--first-root", metavar="BASE64",
                             help="the older root you kept (tree size `first`)")
            sub.add_argument("--second-checkpoint", metavar="FILE",
                             help="a newer checkpoint you kept, instead of the answer's")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:  # --help (0) or a usage error (2, message already printed)
        return stop.code if isinstance(stop.code, int) else EXIT_MALFORMED
    try:
        if args.public_key is not None:
            public_key = load_public_key(_read(args.public_key).decode("utf-8", "replace"))
        else:
            public_key = load_public_key(args.public_key_b64)
        document = load_document(args.file)
        if args.kind == "inclusion":
            verdict = check_inclusion(
                document, public_key,
                checkpoint=None if args.checkpoint is None else load_document(args.checkpoint),
                event_hash=None if args.event_hash is None else _decode_hex(
                    args.event_hash, "--event-hash"))
        elif args.kind == "consistency":
            verdict = check_consistency(
                document, public_key,
                first_checkpoint=_optional_document(args.first_checkpoint),
                second_checkpoint=_optional_document(args.second_checkpoint),
                first_root=None if args.first_root is None else _decode_b64(
                    args.first_root, "--first-root", HASH_SIZE))
        else:
            verdict = check_checkpoint(document, public_key)
    except VerificationFailure as failure:
        print(f"{failure.label}: {failure}", file=sys.stderr)
        return failure.exit_code
    print(verdict)
    return EXIT_OK


def _optional_document(path: str | None) -> object | None:
    return None if path is None else load_document(path)


# -- helpers -------------------------------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _short(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")[:12] + "..."


def _when(signed: CheckpointBody) -> str:
    if signed.timestamp is None:
        return "an old-form checkpoint: its time is not signed"
    return f"signed at {signed.timestamp}"


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise MalformedProofError(f"cannot read {path}: {error.strerror or error}") from error


def _parse_json(raw: bytes, path: str) -> object:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise MalformedProofError(f"{path} is not valid JSON: {error}") from error


def _reject_constant(name: str) -> object:
    raise MalformedProofError(f"{name} is not a number")


def _require_object(document: object, what: str = "the proof") -> dict[str, object]:
    if not isinstance(document, Mapping):
        raise MalformedProofError(f"{what} must be a JSON object")
    return dict(document)


def _field(fields: dict[str, object], name: str, what: str = "the proof") -> object:
    if name not in fields:
        raise MalformedProofError(f"{what}: missing field {name!r}")
    return fields[name]


def _size_field(fields: dict[str, object], name: str) -> int:
    value = _field(fields, name)
    if not _is_count(value) or not isinstance(value, int) or value > MAX_TREE_SIZE:
        raise MalformedProofError(f"{name!r} must be an integer from 0 to 2**64 - 1")
    return value


def _decode_b64(value: object, what: str, size: int = HASH_SIZE) -> bytes:
    if not isinstance(value, str):
        raise MalformedProofError(f"{what} must be a base64 string")
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise MalformedProofError(f"{what} is not valid base64") from error
    if len(decoded) != size:
        raise MalformedProofError(f"{what} must decode to {size} bytes, got {len(decoded)}")
    return decoded


def _decode_hex(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value, re.ASCII):
        raise MalformedProofError(f"{what} must be {HASH_SIZE * 2} hexadecimal digits")
    return bytes.fromhex(value)


def _hash_field(fields: dict[str, object], name: str) -> bytes:
    return _decode_b64(_field(fields, name), repr(name))


def _hex_hash_field(fields: dict[str, object], name: str) -> bytes:
    return _decode_hex(_field(fields, name), repr(name))


def _hash_list_field(fields: dict[str, object], name: str) -> list[bytes]:
    value = _field(fields, name)
    if not isinstance(value, list):
        raise MalformedProofError(f"{name!r} must be a list of base64 hashes")
    return [_decode_b64(item, f"{name!r}[{i}]") for i, item in enumerate(value)]


if __name__ == "__main__":
    sys.exit(main())
