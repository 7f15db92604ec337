"""Signed checkpoints: issue them over the stored Merkle tree, and check a saved one.

The signing key is an Ed25519 PEM file (TRIAL_LEDGER_SIGNING_KEY_FILE, else generated once
into the secrets directory, mode 0600); it is never written to the database. Every issued
checkpoint is kept in `ledger_checkpoints`, and the leaves it covers stay in `merkle_nodes`
(both append-only), so a later check can name the first leaf that no longer matches.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from infra.ledger import checkpoint_format as fmt
from infra.ledger import merkle, proofs
from infra.ledger.chain import GENESIS_HASH, ChainedRecord, format_recorded_at, link_hash
from infra.ledger.merkle_store import ChainForkError, MerkleStore
from infra.ledger.store import LedgerStore
from infra.logging import get_logger
from infra.secret_files import InsecureSecretFile, read_or_create_secret, read_secret_file
from infra.settings import SIGNING_KEY_FILE
from infra.tables import RecordedAt, ledger_chain, stored_events

if TYPE_CHECKING:
    from infra.settings import Settings

KEY_FILE_NAME = SIGNING_KEY_FILE
log = get_logger("trial_ledger.checkpoints")
RECOMPUTE_BATCH = 5000

metadata = sa.MetaData()
ledger_checkpoints = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column("checkpoint_id", sa.BigInteger, primary_key=True),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("issued_at", RecordedAt, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
)
_key_guard = threading.Lock()


class SigningKeyError(RuntimeError):
    """The configured signing key file is missing or not an Ed25519 private key."""


# -- the key --------------------------------------------------------------------------------


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The checkpoint key: the configured file, else one generated on first use (0600)."""
    path = settings.signing_key_path()
    try:
        if settings.signing_key_file is None:
            with _key_guard:  # another process may generate too: the first to link wins
                pem = read_or_create_secret(
                    path, lambda: fmt.private_key_to_pem(fmt.generate_private_key()))
        else:
            pem = read_secret_file(path)
        return fmt.private_key_from_pem(pem)
    except FileNotFoundError:
        raise SigningKeyError(f"TRIAL_LEDGER_SIGNING_KEY_FILE {path} does not exist") from None
    except InsecureSecretFile as error:
        raise SigningKeyError(str(error)) from None
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"{path} is not an Ed25519 private key: {error}") from None


def configured_public_key(settings: Settings) -> bytes | None:
    """The raw public key of the configured key, without generating one."""
    path = settings.signing_key_path()
    if not path.exists():
        return None
    return fmt.public_key_raw(signing_key(settings))


def public_key_document(settings: Settings) -> dict[str, str]:
    """GET /ledger/public-key: what an auditor pins to check checkpoints offline."""
    raw = fmt.public_key_raw(signing_key(settings))
    return {"key_id": fmt.key_id(raw), "algorithm": fmt.ALGORITHM,
            "public_key": base64.b64encode(raw).decode("ascii")}


# -- issuing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    body: str
    signature: bytes

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "tree_size": self.tree_size,
                "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
                "timestamp": self.timestamp, "key_id": self.key_id, "body": self.body,
                "signature": base64.b64encode(self.signature).decode("ascii")}


def issue_checkpoint(engine: Engine, settings: Settings) -> Checkpoint:
    """Sync the tree to the whole chain, sign its root and keep the checkpoint."""
    key = signing_key(settings)
    tree = MerkleStore(engine)
    size = tree.sync()
    root = tree.root(size)
    timestamp = format_recorded_at(datetime.now(UTC))
    body = fmt.checkpoint_body(settings.ledger_origin, size, root, timestamp)  # time is signed
    checkpoint = Checkpoint(settings.ledger_origin, size, root, timestamp,
                            fmt.key_id(fmt.public_key_raw(key)), body, fmt.sign_body(key, body))
    with engine.begin() as conn:
        conn.execute(ledger_checkpoints.insert().values(
            origin=checkpoint.origin, tree_size=size, root_hash=root,
            issued_at=checkpoint.timestamp, key_id=checkpoint.key_id, body=body,
            signature=checkpoint.signature))
    return checkpoint


def stored_checkpoint_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(ledger_checkpoints)
                                ).scalar_one())


def latest_checkpoint(engine: Engine) -> Checkpoint | None:
    return _newest(engine, sa.select(ledger_checkpoints))


def checkpoint_of_size(engine: Engine, tree_size: int) -> Checkpoint | None:
    """The newest stored checkpoint of exactly ``tree_size`` leaves, if any was issued."""
    return _newest(engine, sa.select(ledger_checkpoints).where(
        ledger_checkpoints.c.tree_size == tree_size))


def _newest(engine: Engine, query: sa.Select[Any]) -> Checkpoint | None:
    query = query.order_by(ledger_checkpoints.c.checkpoint_id.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return Checkpoint(row.origin, int(row.tree_size), bytes(row.root_hash), row.issued_at,
                      row.key_id, row.body, bytes(row.signature))


def current_checkpoint(engine: Engine, settings: Settings) -> Checkpoint:
    """The latest checkpoint if it covers the whole log with today's key; else a new one."""
    latest = latest_checkpoint(engine)
    key_id = fmt.key_id(fmt.public_key_raw(signing_key(settings)))
    if (latest is not None and latest.origin == settings.ledger_origin
            and latest.key_id == key_id and latest.tree_size == MerkleStore(engine).sync()):
        return latest
    return issue_checkpoint(engine, settings)


def checkpoint_periodically(engine: Engine, settings: Settings, stop: threading.Event,
                            interval_seconds: float = 60.0) -> None:
    """Worker loop: a new checkpoint whenever the log has grown, until `stop` is set.
    A round that fails (a rewritten chain, an unreadable key) is logged and retried."""
    while not stop.is_set():
        try:
            checkpoint = current_checkpoint(engine, settings)
            log.info("checkpoint_current", tree_size=checkpoint.tree_size)
        except (ChainForkError, SigningKeyError, sa.exc.SQLAlchemyError) as error:
            log.error("checkpoint_failed", error_type=type(error).__name__, error=str(error))
        stop.wait(interval_seconds)


# -- checking a saved checkpoint -------------------------------------------------------------


@dataclass(frozen=True)
class RecomputedLeaf:
    leaf_index: int
    hash: bytes | None  # None: its event or chain row is missing, so it cannot be recomputed
    stream_id: str | None
    version: int | None
    position: int | None


def recomputed_leaves(engine: Engine, batch: int = RECOMPUTE_BATCH) -> Iterator[RecomputedLeaf]:
    """Leaf hashes re-derived from the stored event bytes, chained from the genesis hash:
    only the chain rows' places (leaf, position, recorded_at) are read, never their hashes."""
    query = (sa.select(ledger_chain.c.leaf_index, ledger_chain.c.position,
                       ledger_chain.c.recorded_at, ledger_chain.c.stream_id,
                       ledger_chain.c.version, stored_events.c.topic, stored_events.c.state)
             .select_from(ledger_chain.outerjoin(stored_events, sa.and_(
                 stored_events.c.originator_id == ledger_chain.c.stream_id,
                 stored_events.c.originator_version == ledger_chain.c.version)))
             .order_by(ledger_chain.c.leaf_index).limit(batch))
    prev_hash: bytes | None = GENESIS_HASH
    expected = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(ledger_chain.c.leaf_index >= expected)).all()
        if not rows:
            return
        for row in rows:
            while expected < row.leaf_index:  # a chain row is gone: nothing after it chains
                prev_hash = None
                yield RecomputedLeaf(expected, None, None, None, None)
                expected += 1
            if row.state is None or prev_hash is None:
                prev_hash = None
            else:
                record = ChainedRecord(expected, int(row.position), str(row.stream_id),
                                       int(row.version), str(row.topic), row.recorded_at,
                                       _blob(row.state))
                prev_hash = link_hash(prev_hash, record)
            yield RecomputedLeaf(expected, None if prev_hash is None else merkle.leaf_hash(
                prev_hash), str(row.stream_id), int(row.version), int(row.position))
            expected += 1


def _blob(value: object) -> bytes:
    """Stored bytes as bytes, even where a hand edit left text in the blob column."""
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class CheckpointReport:
    ok: bool
    tree_size: int | None = None
    log_size: int | None = None
    origin: str | None = None
    key_id: str | None = None
    signature_ok: bool = False
    root_matches: bool = False
    consistent: bool = False
    first_bad_leaf_index: int | None = None
    first_bad_event: dict[str, Any] | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if not self.ok:
            return f"external checkpoint: FAILED: {self.problem}"
        return (f"external checkpoint: size {self.tree_size} signed by key {self.key_id}; the "
                "root re-derived from the stored events matches it and today's log of "
                f"{self.log_size} events extends it")


class _Walk:
    """One pass over the leaves recomputed from the events beside the leaves stored in the
    tree: their roots at the checkpoint's size and the tree's size, and the first difference."""

    def __init__(self, engine: Engine, tree: MerkleStore, first: int, stored: int) -> None:
        recomputed, kept = merkle.CompactRange(), merkle.CompactRange()
        wanted = {first, stored}
        self.recomputed_roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        self.kept_root: bytes | None = merkle.EMPTY_ROOT if first == 0 else None
        self.first_diff: RecomputedLeaf | None = None
        stored_leaves = tree.leaves(0, stored)
        for leaf in recomputed_leaves(engine):
            kept_hash = next(stored_leaves)[1] if leaf.leaf_index < stored else None
            if self.first_diff is None and kept_hash is not None and leaf.hash != kept_hash:
                self.first_diff = leaf
            if kept_hash is not None and kept.size < first:
                kept.append(kept_hash)
                if kept.size == first:
                    self.kept_root = kept.root()
            if leaf.hash is not None and recomputed.size == leaf.leaf_index:
                recomputed.append(leaf.hash)
                if recomputed.size in wanted:
                    self.recomputed_roots[recomputed.size] = recomputed.root()


def _failed(partial: dict[str, Any], problem: str) -> CheckpointReport:
    return CheckpointReport(ok=False, problem=problem, **partial)


def _event(leaf: RecomputedLeaf | None) -> dict[str, Any] | None:
    if leaf is None or leaf.stream_id is None:
        return None
    return {"leaf_index": leaf.leaf_index, "stream_id": leaf.stream_id,
            "version": leaf.version, "position": leaf.position}


def _describe(leaf: RecomputedLeaf) -> str:
    if leaf.stream_id is None:
        return f"leaf {leaf.leaf_index} (its chain row is missing)"
    what = f"leaf {leaf.leaf_index} ({leaf.stream_id} v{leaf.version} at position {leaf.position})"
    return what + (": its stored event is missing" if leaf.hash is None else "")


def verify_against_checkpoint(
    store: LedgerStore | Engine,
    checkpoint: Mapping[str, Any],
    *,
    public_key: bytes | None = None,
    expected_origin: str | None = None,
) -> CheckpointReport:
    """Check a saved checkpoint: its signature, that the tree re-derived from the stored
    events has its root, and that the current tree extends it (RFC 9162 consistency proof).

    The public key is the checkpoint's own `public_key` field when the auditor pinned one
    there, else `public_key` (the configured key). On a root mismatch, the first leaf whose
    recomputed hash differs from the leaf stored when the checkpoint was issued is named;
    those stored leaves are trusted only because they hash to the signed root.
    """
    engine = store.engine if isinstance(store, LedgerStore) else store
    try:
        body, signature, pinned_key = _read_checkpoint(checkpoint)
        signed = fmt.read_body(body)
        origin, first, signed_root = signed.origin, signed.tree_size, signed.root_hash
    except ValueError as error:
        return _failed({}, f"malformed checkpoint: {error}")
    key = pinned_key or public_key
    partial: dict[str, Any] = {"tree_size": first, "origin": origin,
                               "key_id": checkpoint.get("key_id")}
    if key is None:
        return _failed(partial, "no public key to check the signature with: configure the "
                                "signing key or add the pinned public_key to the checkpoint")
    if pinned_key is not None and public_key is not None and pinned_key != public_key:
        return _failed(partial, f"the checkpoint pins key {_key_name(pinned_key)} but this "
                                f"log signs with key {_key_name(public_key)}")
    if not fmt.verify_checkpoint(key, body, signature):
        return _failed(partial, "the checkpoint's signature does not verify with key "
                                f"{_key_name(key)}: it is forged, altered or signed by "
                                "another key")
    partial |= {"key_id": fmt.key_id(key), "signature_ok": True}
    mismatch = _fields_disagreeing_with_body(checkpoint, signed)
    if mismatch:
        return _failed(partial, f"the checkpoint's {mismatch} field disagrees with its "
                                "signed body")
    if expected_origin is not None and origin != expected_origin:
        return _failed(partial, f"the checkpoint is for log {origin!r}, not this log "
                                f"({expected_origin!r})")
    return _check_tree(engine, partial, first, signed_root)


def _key_name(key: bytes) -> str:
    try:
        return fmt.key_id(key)
    except ValueError:
        return "(not a 32-byte Ed25519 key)"


def _check_tree(engine: Engine, partial: dict[str, Any], first: int, signed_root: bytes
                ) -> CheckpointReport:
    tree = MerkleStore(engine)  # read only: the stored tree is not extended here
    stored, log_size = tree.size(), tree.log_size()
    partial["log_size"] = log_size
    if log_size < first:
        return _failed(partial, f"the log has {log_size} events, fewer than the "
                                f"{first} the checkpoint signed: events were removed")
    walk = _Walk(engine, tree, first, stored)
    bad = walk.first_diff
    current_root = tree.root(stored)
    partial |= {
        "root_matches": walk.recomputed_roots.get(first) == signed_root,
        "consistent": stored >= first and proofs.verify_consistency(
            first, stored, signed_root, current_root, tree.consistency_proof(first, stored)),
        "first_bad_leaf_index": None if bad is None else bad.leaf_index,
        "first_bad_event": _event(bad),
    }
    if not partial["root_matches"]:
        return _failed(partial, _root_problem(walk, first, stored, signed_root))
    if not partial["consistent"]:
        return _failed(partial, f"the stored tree of {stored} leaves is not consistent with "
                                f"the checkpoint's {first}: the node table was rewritten")
    if bad is not None:
        return _failed(partial, f"{_describe(bad)} no longer matches the leaf stored when it "
                                "was added to the tree: its event or chain row was changed "
                                "since")
    if walk.recomputed_roots.get(stored) != current_root:
        return _failed(partial, "the stored tree's internal nodes do not match its leaves: "
                                "the node table was rewritten")
    return CheckpointReport(ok=True, **partial)


def _root_problem(walk: _Walk, first: int, stored: int, signed_root: bytes) -> str:
    mismatch = "the root re-derived from the stored events does not match the checkpoint"
    bad = walk.first_diff
    if stored < first:
        return (f"{mismatch}, and the stored tree has only {stored} of its {first} leaves: "
                "the node table was truncated")
    if bad is None:
        return (f"{mismatch}, and neither do the stored Merkle leaves: the checkpoint is not "
                "from this log, or the node table was rewritten too")
    if walk.kept_root == signed_root:
        return (f"{mismatch}: the first differing leaf is {_describe(bad)}; its stored bytes "
                "or its place in the chain were changed after the checkpoint was issued")
    return (f"{mismatch}; the first leaf that differs from the stored Merkle leaves is "
            f"{_describe(bad)}, but the stored leaves do not hash to the signed root either: "
            "the node table was rewritten too")


def _read_checkpoint(document: Mapping[str, Any]) -> tuple[str, bytes, bytes | None]:
    if not isinstance(document, Mapping):
        raise proofs.MalformedProofError("a checkpoint is a JSON object")
    body, signature = document.get("body"), document.get("signature")
    if not isinstance(body, str) or not isinstance(signature, str):
        raise proofs.MalformedProofError("'body' and 'signature' must be strings")
    pinned = document.get("public_key")
    if pinned is not None and not isinstance(pinned, str):
        raise ValueError("'public_key' must be base64")
    try:
        raw_signature = base64.b64decode(signature.encode("ascii"), validate=True)
        raw_key = None if pinned is None else base64.b64decode(pinned.encode("ascii"),
                                                               validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise ValueError(f"'signature' or 'public_key' is not base64: {error}") from None
    return body, raw_signature, raw_key


def _fields_disagreeing_with_body(document: Mapping[str, Any], body: proofs.CheckpointBody
                                  ) -> str | None:
    signed: dict[str, Any] = {"origin": body.origin, "tree_size": body.tree_size,
                              "root_hash": base64.b64encode(body.root_hash).decode("ascii")}
    if body.timestamp is not None:  # the old three-line form does not sign its time
        signed["timestamp"] = body.timestamp
    for name, value in signed.items():
        if name in document and document[name] != value:
            return name
    return None


def load_checkpoint_file(path: Path) -> dict[str, Any]:
    """A saved checkpoint (the JSON of GET /ledger/checkpoints/latest); ValueError if unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise proofs.MalformedProofError(f"{path} does not hold a JSON object")
    return document


def check_checkpoint_file(store: LedgerStore, settings: Settings, path: str | Path
                          ) -> CheckpointReport:
    """`trial-ledger verify --checkpoint FILE`: ValueError if the file cannot be read."""
    document = load_checkpoint_file(Path(path))
    try:
        public_key = configured_public_key(settings)
    except SigningKeyError as error:
        raise ValueError(str(error)) from None
    return verify_against_checkpoint(store, document, public_key=public_key,
                                     expected_origin=settings.ledger_origin)
