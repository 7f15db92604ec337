"""Response models of the ledger's checkpoint, public-key and proof routes.

A proof answer carries everything an offline check needs, so that the JSON saved exactly as
returned can be checked alone with `python -m infra.ledger.proofs` and a pinned public key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

B64 = "base64"


class CheckpointOut(BaseModel):
    """A signed checkpoint. Only `body` is signed; the other fields repeat what it says."""

    origin: str = Field(description="The log's name (first line of the body).")
    tree_size: int = Field(description="Leaves (events) the checkpoint covers.")
    root_hash: str = Field(description=f"RFC 9162 root of the first `tree_size` leaves, {B64}.")
    timestamp: str = Field(description="When it was issued, UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ. "
                                       "Signed: the body's `timestamp: ...` line (checkpoints "
                                       "issued before that line existed do not sign it).")
    key_id: str = Field(description="Hex of the first 8 bytes of SHA-256 of the raw public "
                                    "key that signed it.")
    body: str = Field(description="The signed text: origin, tree size, base64 root, then "
                                  "`timestamp: ...`, each line ended by a newline.")
    signature: str = Field(description=f"Ed25519 signature over the body's UTF-8 bytes, {B64}.")


class LatestCheckpointOut(CheckpointOut):
    events_after: int = Field(description="Events recorded after this checkpoint.")


class PublicKeyOut(BaseModel):
    """Save this once, from a source you trust, and pin it for every offline check."""

    key_id: str = Field(description="Hex of the first 8 bytes of SHA-256 of the raw key.")
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description=f"The raw 32-byte Ed25519 public key, {B64}.")


class InclusionProofOut(BaseModel):
    """RFC 9162 §2.1.3 inclusion proof of one event, with the checkpoint it is checked
    against."""

    event_id: str
    leaf_index: int = Field(description="The event's leaf, numbered from 0 in chain order.")
    position: int = Field(description="The event's position in the event store.")
    stream_id: str = Field(description="The stream (participant or account) of the event.")
    version: int = Field(description="The event's version in its stream.")
    recorded_at: str = Field(description="When it was recorded (inside its chain hash).")
    prev_hash: str = Field(description="Hex chain hash of the leaf before (zeros for leaf 0).")
    event_hash: str = Field(description="Hex chain hash of the event: the `hash` returned when "
                                        "it was written, SHA-256(prev_hash || canonical "
                                        "record), docs/adr/0002.")
    leaf_hash: str = Field(description=f"SHA-256(0x00 || event_hash), {B64}.")
    leaf_hash_rule: str = Field(description="How `leaf_hash` is computed from `event_hash`.")
    tree_size: int
    root_hash: str = Field(description=f"The root at `tree_size`, {B64}.")
    audit_path: list[str] = Field(description=f"Sibling hashes from the leaf up, {B64}.")
    checkpoint: CheckpointOut | None = Field(
        description="The stored signed checkpoint of `tree_size` (the newest of that size); "
                    "null if none was issued at that size: check against one you kept.")


class ConsistencyProofOut(BaseModel):
    """RFC 9162 §2.1.4 proof that the tree of `first` leaves is a prefix of the tree of
    `second`, with the checkpoints of both sizes."""

    first: int
    second: int
    first_root: str = Field(description=f"The root at `first`, {B64}.")
    second_root: str = Field(description=f"The root at `second`, {B64}.")
    proof: list[str] = Field(description=f"The consistency proof's hashes, {B64}.")
    first_checkpoint: CheckpointOut | None = Field(
        description="The stored signed checkpoint of `first` leaves, null if none (or first "
                    "is 0): then check against the older checkpoint or root you kept.")
    second_checkpoint: CheckpointOut | None = Field(
        description="The stored signed checkpoint of `second` leaves, null if none.")
