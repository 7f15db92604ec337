"""Signed checkpoint text under Ed25519: "{origin}\\n{tree_size}\\n{base64 root}\\n" then the
extension line "timestamp: {RFC 3339 UTC}\\n" (checkpoints issued before it have three lines).

Pure helpers shared by the writer that signs checkpoints and anyone who checks them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.ledger import proofs

ALGORITHM = "Ed25519"
HASH_SIZE = 32
PUBLIC_KEY_SIZE = 32


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes,
                    timestamp: str | None = None) -> str:
    """The exact text that a checkpoint signature covers: origin, tree size, base64 root and,
    when given, the extension line ``timestamp: <RFC 3339 UTC>`` (a signed-note body).

    Without ``timestamp`` it is the old three-line form, still accepted by every checker.
    ValueError for values that could not be parsed back."""
    return proofs.format_checkpoint_body(origin, tree_size, root_hash, timestamp)


def read_body(body: str) -> proofs.CheckpointBody:
    """Checkpoint text as (origin, tree_size, root_hash, timestamp or None for the old
    three-line form); ValueError for anything ``checkpoint_body`` would not write. The parser
    is the stand-alone verifier's, so the writer and every checker read the same text."""
    return proofs.parse_checkpoint_body(body)


def parse_body(body: str) -> tuple[str, int, bytes]:
    """(origin, tree_size, root_hash) of checkpoint text in either form (see ``read_body``)."""
    signed = read_body(body)
    return signed.origin, signed.tree_size, signed.root_hash


def sign_body(private_key: Ed25519PrivateKey, body: str) -> bytes:
    """Ed25519 signature over the body's UTF-8 bytes."""
    return private_key.sign(body.encode("utf-8"))


def verify_checkpoint(public_key_raw: bytes, body: str, signature: bytes) -> bool:
    """Whether ``signature`` is the holder of ``public_key_raw``'s signature over ``body``."""
    try:
        public_key = Ed25519PublicKey.from_public_bytes(public_key_raw)
        public_key.verify(signature, body.encode("utf-8"))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def key_id(public_key_raw: bytes) -> str:
    """Hex of the first 8 bytes of SHA-256 over the raw 32-byte public key."""
    if not isinstance(public_key_raw, bytes) or len(public_key_raw) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} raw bytes")
    return hashlib.sha256(public_key_raw).digest()[:8].hex()


def public_key_raw(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key published at /ledger/public-key."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(private_key: Ed25519PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM; protect it with file permissions or a secret store."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM private key: ValueError if unreadable, TypeError if not Ed25519."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"checkpoint signing key must be Ed25519, got {type(key).__name__}")
    return key


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    return private_key_from_pem(Path(path).read_bytes())


def save_private_key(private_key: Ed25519PrivateKey, path: str | os.PathLike[str]) -> None:
    """Write the key as PEM PKCS#8, readable by the owner only; never overwrite a key."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_key_to_pem(private_key))

