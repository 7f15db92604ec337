"""The hash chain: canonical bytes of one stored event and the SHA-256 link over them.

Writer (the recorder) and verifier both call these functions, so they cannot disagree.
The hash covers the bytes exactly as stored (ADR 0002), never a re-serialisation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

CHAIN_DOMAIN = b"trial-ledger.chain.v1"
GENESIS_HASH = bytes(32)
"""The previous hash of leaf 0."""


def format_recorded_at(moment: datetime) -> str:
    """Canonical text of a recorded time: UTC, microseconds, 'Z' (RFC 3339)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat pads the year to four digits (strftime's %Y does not for years before 1000).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_recorded_at(text: str) -> datetime:
    """Inverse of `format_recorded_at` (also accepts '+00:00' and a space separator)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T")).astimezone(UTC)


@dataclass(frozen=True)
class ChainedRecord:
    """One stored event as the chain sees it: its place, its identity and its stored bytes."""

    leaf_index: int
    position: int
    stream_id: str
    version: int
    topic: str
    recorded_at: str
    state: bytes


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


def canonical_bytes(record: ChainedRecord) -> bytes:
    """Length-prefixed concatenation of every field: unambiguous and independent of JSON."""
    parts = (
        CHAIN_DOMAIN,
        str(record.leaf_index).encode(),
        str(record.position).encode(),
        record.stream_id.encode(),
        str(record.version).encode(),
        record.topic.encode(),
        record.recorded_at.encode(),
        record.state,
    )
    return b"".join(_field(p) for p in parts)


def link_hash(prev_hash: bytes, record: ChainedRecord) -> bytes:
    """event_hash = SHA-256(prev_hash || canonical_bytes(record))."""
    return hashlib.sha256(prev_hash + canonical_bytes(record)).digest()
