"""Snapshot bytes of a Participant aggregate and of its cached outcome views.

A snapshot must decode to exactly the aggregate a fold of the same events gives (tests fold
every version both ways and compare), so the encoding is explicit and complete: the library's
bookkeeping (id, version, created/modified times), every entry field by field (its clinical
date as an ISO date), the signatures, the lock, the site and the transfer flag; nothing else.
An attribute the encoder does not know refuses the snapshot rather than dropping it, and
nothing cached on an entry (its typed payload, `domain.entries.Entry.payload`) is ever
written: only the dataclass fields are. JSON, deflated: about a sixth of the size; inflating
costs less than reading the pages it saves.

`FINGERPRINT` names the code that made a snapshot: a digest of every domain module (how events
fold, how outcomes are derived), of this module and of the outcome views, and the eventsourcing
version (how events decode). A snapshot made by other code is never used: what it holds is what
that code derived, which this code might not.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import fields
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic_core import from_json

import domain
from domain.entries import Entry
from domain.locks import DataLock
from domain.participant import Participant
from domain.signature import Signature

STATE_KEYS = ("_id", "_version", "_created_on", "_modified_on", "_pending_events", "entries",
              "site_id", "signatures", "data_lock", "transferred")
"""A folded Participant's attributes, in the order a fold sets them."""
ENTRY_FIELDS = tuple(f.name for f in fields(Entry))
SIGNATURE_FIELDS = tuple(f.name for f in fields(Signature))
LOCK_FIELDS = tuple(f.name for f in fields(DataLock))
_OCCURRED_ON = ENTRY_FIELDS.index("occurred_on")
COMPRESSION_LEVEL = 6


class NotSnapshottable(ValueError):
    """The aggregate holds something the encoding does not carry (or unsaved events)."""


def _fingerprint() -> str:
    here = Path(__file__).resolve().parent
    sources = sorted(Path(domain.__file__).resolve().parent.rglob("*.py"))
    sources += [here / "participant_codec.py", here / "casebook_outcomes.py"]
    digest = hashlib.sha256(metadata.version("eventsourcing").encode())
    root = Path(domain.__file__).resolve().parent.parent
    for path in sources:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


FINGERPRINT = _fingerprint()


def encode_participant(participant: Participant) -> bytes:
    state = participant.__dict__
    unknown = set(state) - set(STATE_KEYS)
    if unknown or state["_pending_events"]:
        raise NotSnapshottable(f"participant {participant.id}: unknown attributes "
                               f"{sorted(unknown)} or unsaved events")
    entries = []
    for entry in state["entries"].values():
        row = [getattr(entry, name) for name in ENTRY_FIELDS]
        row[_OCCURRED_ON] = row[_OCCURRED_ON].isoformat()
        entries.append(row)
    lock = state["data_lock"]
    document = {
        "id": state["_id"],
        "version": state["_version"],
        "created_on": state["_created_on"].isoformat(),
        "modified_on": state["_modified_on"].isoformat(),
        "site_id": state["site_id"],
        "transferred": state["transferred"],
        "lock": None if lock is None else [getattr(lock, name) for name in LOCK_FIELDS],
        "signatures": [[getattr(s, name) for name in SIGNATURE_FIELDS]
                       for s in state["signatures"]],
        "entries": entries,
    }
    return _pack(document)


def decode_participant(payload: bytes) -> Participant:
    """The aggregate `encode_participant` was given (any malformed payload raises)."""
    # Only keys are worth caching: event ids and dates are all distinct, and caching them
    # evicts the keys every entry's data shares.
    document = from_json(inflate(payload), cache_strings="keys")
    entries: dict[str, Entry] = {}
    for row in document["entries"]:
        row[_OCCURRED_ON] = date.fromisoformat(row[_OCCURRED_ON])
        entry = Entry(*row)
        entries[entry.event_id] = entry
    lock = document["lock"]
    participant = object.__new__(Participant)
    participant.__dict__.update({
        "_id": document["id"],
        "_version": document["version"],
        "_created_on": datetime.fromisoformat(document["created_on"]),
        "_modified_on": datetime.fromisoformat(document["modified_on"]),
        "_pending_events": [],
        "entries": entries,
        "site_id": document["site_id"],
        "signatures": [Signature(*row) for row in document["signatures"]],
        "data_lock": None if lock is None else DataLock(*lock),
        "transferred": document["transferred"],
    })
    return participant


def encode_views(views: dict[str, Any]) -> bytes:
    return _pack(views)


def decode_views(payload: bytes) -> dict[str, Any]:
    views: dict[str, Any] = from_json(inflate(payload), cache_strings="keys")
    return views


def _pack(document: Any) -> bytes:
    """The JSON's length, then the JSON deflated (raw: the MAC already covers integrity, and
    a known length inflates into one buffer instead of a growing one)."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()
    deflate = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return struct.pack(">I", len(text)) + deflate.compress(text) + deflate.flush()


def inflate(payload: bytes) -> bytes:
    """The JSON text a payload holds."""
    (size,) = struct.unpack_from(">I", payload)
    text = zlib.decompress(payload[4:], -zlib.MAX_WBITS, max(size, 1))
    if len(text) != size:
        raise ValueError(f"a snapshot payload inflates to {len(text)} bytes, not {size}")
    return text
