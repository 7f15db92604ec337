"""Recompute the hash chain from the stored bytes and name the first position that disagrees."""

from __future__ import annotations

import contextlib
import hashlib
import queue
import struct
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

from infra.ledger.chain import CHAIN_DOMAIN, GENESIS_HASH, ChainedRecord, link_hash
from infra.ledger.merkle_store import MerkleStore
from infra.ledger.store import ChainRow, LedgerStore, StoredRow


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events: int
    head: str | None
    first_bad_position: int | None = None
    first_bad_leaf_index: int | None = None
    problem: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"chain: {self.events} events linked"
        return (f"chain: FAILED at position {self.first_bad_position} (leaf "
                f"{self.first_bad_leaf_index}): {self.problem}")

    def as_dict(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "events": self.events, "head": self.head}
        return {
            "ok": False,
            "first_bad_position": self.first_bad_position,
            "first_bad_leaf_index": self.first_bad_leaf_index,
            "problem": self.problem,
            "events": self.events,
        }


def _pairs(chain: Iterator[ChainRow], stored: Iterator[StoredRow]
           ) -> Iterator[tuple[ChainRow | None, StoredRow | None]]:
    """Merge the two position-ordered sequences, pairing rows at the same position."""
    c, s = next(chain, None), next(stored, None)
    while c is not None or s is not None:
        if s is None or (c is not None and c.position < s.position):
            yield c, None
            c = next(chain, None)
        elif c is None or s.position < c.position:
            yield None, s
            s = next(stored, None)
        else:
            yield c, s
            c, s = next(chain, None), next(stored, None)


def _bad(count: int, position: int, leaf: int | None, problem: str) -> VerifyReport:
    return VerifyReport(False, count, None, position, leaf, problem)


def _missing_chain_row(store: LedgerStore, stored: StoredRow, leaf: int) -> VerifyReport:
    """A stored event without a chain row: its row was deleted (the chain's leaf indexes skip
    it, or the Merkle tree still holds its leaf), or the event was inserted outside the
    ledger (nothing is missing from the chain)."""
    what = (f"event {stored.stream_id} v{stored.version} at position {stored.position} has no "
            "chain row")
    following = store.chain_after(stored.position)
    if following is not None and following.leaf_index > leaf:
        return _bad(leaf, stored.position, leaf,
                    f"{what}: its chain row (leaf {leaf}) is missing, the chain skips from "
                    f"leaf {leaf - 1} to leaf {following.leaf_index}: the chain row was deleted")
    if following is None and MerkleStore(store.engine).has_leaf(leaf):
        return _bad(leaf, stored.position, leaf,
                    f"{what}: its chain row (leaf {leaf}) is missing although the Merkle tree "
                    "holds that leaf: the chain row was deleted")
    if following is None:
        return _bad(leaf, stored.position, None,
                    f"{what}: it was inserted outside the ledger, or the chain row of the last "
                    "event was deleted")
    return _bad(leaf, stored.position, None, f"{what}: it was inserted outside the ledger")


PAGE = 10_000
"""Rows per keyset page of each stream (chain rows, stored events) in the fast pass."""
_LENGTH = struct.Struct(">Q").pack
_SHORT = 4096
_LENGTHS = [_LENGTH(size) for size in range(_SHORT)]
"""The 8-byte big-endian length prefixes of short fields, precomputed."""
_DOMAIN_FIELD = _LENGTH(len(CHAIN_DOMAIN)) + CHAIN_DOMAIN


@dataclass
class _Progress:
    """How far the walk has verified: everything up to leaf `expected_leaf` - 1."""

    expected_head: str | None
    prev_hash: bytes = GENESIS_HASH
    prev_recorded_at: str = ""
    expected_leaf: int = 0
    last_position: int = 0
    seen_head: bool = field(init=False)
    head_bytes: bytes | None = field(init=False)

    def __post_init__(self) -> None:
        self.seen_head = self.expected_head is None
        self.head_bytes = _hash_named_by(self.expected_head)


def _hash_named_by(text: str | None) -> bytes | None:
    """The bytes whose `.hex()` is `text`, or None if no byte string's is."""
    if text is None or len(text) % 2 or text.strip("0123456789abcdef"):
        return None
    return bytes.fromhex(text)


def verify_ledger(store: LedgerStore, *, expected_head: str | None = None,
                  leaves: list[bytes] | None = None) -> VerifyReport:
    """Walk chain and events together; the first disagreement is reported, with its position.

    Both streams are read in keyset pages of plain driver tuples and each page is checked in
    one tight loop (`_verified_page`). A page that holds any disagreement, or any value not of
    the type the recorder writes, is not judged there: the walk goes on from the start of that
    page with `_walk`, which checks row by row and words the finding. So the findings are
    exactly those of the row-by-row walk.

    `leaves`, if given, receives the Merkle leaf hash (RFC 9162, of the event hash) of every
    event verified, in leaf order: the same leaves a re-derivation from the stored bytes gives,
    since each verified event hash is the link recomputed from them.
    """
    progress = _Progress(expected_head)
    position_after = -1
    with _Pages(store, ahead=store.engine.dialect.name == "postgresql") as pages:
        for chain, stored in pages:
            hashes = _verified_page(chain, stored, progress)
            if hashes is None:
                break
            if not progress.seen_head and progress.head_bytes in hashes:
                progress.seen_head = True
            if leaves is not None:
                leaves.extend(map(_leaf_hash, hashes))
            position_after = progress.last_position
        else:
            if pages.complete:
                return _finish(progress)
    return _walk(store, progress, position_after, leaves)


class _Pages:
    """Pairs of pages (chain rows, stored events) of equal length, each starting after the
    last row of the pair before, on one connection. Ends at the first pair that cannot be
    equal (one stream ran out); `complete` says whether both ran out together.

    With `ahead` (PostgreSQL) a thread reads one pair ahead of the caller, so the server
    works on the next pair while the caller hashes this one. SQLite works inside this
    process, where a second thread only competes with the caller for the interpreter."""

    def __init__(self, store: LedgerStore, ahead: bool) -> None:
        self.store, self.ahead = store, ahead
        self.complete = False
        self._inline: Generator[tuple[list[Any], list[Any]]] | None = None
        self._queue: queue.Queue[tuple[list[Any], list[Any]] | BaseException | None] = \
            queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="verify-pages", daemon=True)

    def __enter__(self) -> Self:
        if self.ahead:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if not self.ahead:
            if self._inline is not None:
                self._inline.close()
            return
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def __iter__(self) -> Iterator[tuple[list[Any], list[Any]]]:
        if not self.ahead:
            self._inline = self._pairs()
            yield from self._inline
            return
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: tuple[list[Any], list[Any]] | BaseException | None) -> bool:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=0.05)
                return True
        return False

    def _pairs(self) -> Generator[tuple[list[Any], list[Any]]]:
        leaf_after = position_after = -1
        with self.store.engine.connect() as conn:
            while not self._stop.is_set():
                chain = self.store.chain_page(conn, leaf_after, PAGE)
                stored = self.store.stored_page(conn, position_after, PAGE)
                count = min(len(chain), len(stored))
                if count == 0:
                    self.complete = not chain and not stored
                    return
                yield chain[:count], stored[:count]
                leaf_after, position_after = chain[count - 1][0], stored[count - 1][0]

    def _read(self) -> None:
        try:
            with contextlib.closing(self._pairs()) as pairs:
                for pair in pairs:
                    if not self._put(pair):
                        return
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            self._put(error)
            return
        self._put(None)


def _leaf_hash(event_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + event_hash).digest()


def _verified_page(chain: list[tuple[Any, ...]], stored: list[tuple[Any, ...]],
                   progress: _Progress) -> list[bytes] | None:
    """The event hashes of a page in which every pair agrees, advancing `progress`; None (and
    `progress` untouched) if any pair needs the row-by-row walk to be judged.

    The canonical bytes are `chain.canonical_bytes` built inline: the length-prefixed fields
    of the few distinct stream ids, versions and topics are kept per page, and any value of a
    type the recorder never writes sends the page to the walk, so a field is never rendered
    differently from `canonical_bytes`."""
    sha256, pack, lengths = hashlib.sha256, _LENGTH, _LENGTHS
    prev, prev_recorded_at, leaf = progress.prev_hash, progress.prev_recorded_at, \
        progress.expected_leaf
    streams: dict[str, bytes] = {}
    versions: dict[int, bytes] = {}
    topics: dict[str, bytes] = {}
    hashes = []
    for (c_leaf, position, c_stream, c_version, recorded_at, c_prev, c_hash), \
            (s_position, s_stream, s_version, topic, state) in zip(chain, stored, strict=True):
        if (position != s_position or c_leaf != leaf or c_prev != prev
                or c_stream != s_stream or c_version != s_version
                or type(recorded_at) is not str or recorded_at <= prev_recorded_at
                or type(state) is not bytes or type(c_hash) is not bytes
                or type(c_leaf) is not int or type(position) is not int):
            return None
        stream_field = streams.get(s_stream)
        if stream_field is None:
            if type(s_stream) is not str:
                return None
            stream_field = streams[s_stream] = _field(s_stream)
        version_field = versions.get(s_version)
        if version_field is None:
            if type(s_version) is not int:
                return None
            version_field = versions[s_version] = _field(str(s_version))
        topic_field = topics.get(topic)
        if topic_field is None:
            if type(topic) is not str:
                return None
            topic_field = topics[topic] = _field(topic)
        leaf_text, position_text = b"%d" % c_leaf, b"%d" % position
        recorded_text = recorded_at.encode()
        size = len(state)
        digest = sha256(b"".join((
            prev, _DOMAIN_FIELD, lengths[len(leaf_text)], leaf_text,
            lengths[len(position_text)], position_text, stream_field, version_field,
            topic_field, lengths[len(recorded_text)], recorded_text,
            lengths[size] if size < _SHORT else pack(size), state))).digest()
        if digest != c_hash:
            return None
        hashes.append(c_hash)
        prev, prev_recorded_at, leaf = c_hash, recorded_at, leaf + 1
    progress.prev_hash, progress.prev_recorded_at = prev, prev_recorded_at
    progress.expected_leaf, progress.last_position = leaf, chain[-1][1]
    return hashes


def _field(text: str) -> bytes:
    """One length-prefixed field of `canonical_bytes` (raises on text UTF-8 cannot hold, as
    `canonical_bytes` does)."""
    encoded = text.encode()
    return _LENGTH(len(encoded)) + encoded


def _finish(progress: _Progress) -> VerifyReport:
    expected_leaf, last_position = progress.expected_leaf, progress.last_position
    if not progress.seen_head:
        return _bad(expected_leaf, last_position + 1, expected_leaf,
                    f"the head {progress.expected_head} is not in the log, which ends at "
                    f"position {last_position} after {expected_leaf} events: the tail was "
                    "truncated or rewritten")
    prev_hash = progress.prev_hash
    return VerifyReport(True, expected_leaf, prev_hash.hex() if expected_leaf else None)


def _walk(store: LedgerStore, progress: _Progress, position_after: int,
          leaves: list[bytes] | None) -> VerifyReport:
    """Row by row from where `progress` stands: the chain rows after its leaf and the stored
    events after `position_after`, merged by position."""
    prev_hash, prev_recorded_at = progress.prev_hash, progress.prev_recorded_at
    expected_leaf, last_position = progress.expected_leaf, progress.last_position
    seen_head, expected_head = progress.seen_head, progress.expected_head
    for chain, stored in _pairs(store.iter_chain(after=expected_leaf - 1),
                                store.iter_stored(after=position_after)):
        if chain is None:
            assert stored is not None
            return _missing_chain_row(store, stored, expected_leaf)
        position = chain.position
        if stored is None:
            return _bad(expected_leaf, position, chain.leaf_index,
                        f"the event at position {position} ({chain.stream_id} v{chain.version}) "
                        "is missing from the event table: it was deleted")
        if chain.leaf_index != expected_leaf:
            return _bad(expected_leaf, position, expected_leaf,
                        f"leaf {expected_leaf} was expected at position {position} but the chain "
                        f"row says leaf {chain.leaf_index}: a chain row was removed or inserted")
        if (chain.stream_id, chain.version) != (stored.stream_id, stored.version):
            return _bad(expected_leaf, position, expected_leaf,
                        f"the chain row at position {position} names {chain.stream_id} "
                        f"v{chain.version} but the stored event is {stored.stream_id} "
                        f"v{stored.version}")
        if chain.prev_hash != prev_hash:
            return _bad(expected_leaf, position, expected_leaf,
                        f"the chain row at position {position} does not link to the previous "
                        "event's hash: the chain was edited")
        if chain.recorded_at <= prev_recorded_at:
            return _bad(expected_leaf, position, expected_leaf,
                        f"recorded_at at position {position} ({chain.recorded_at}) is not after "
                        f"the previous event's ({prev_recorded_at})")
        record = ChainedRecord(chain.leaf_index, position, stored.stream_id, stored.version,
                               stored.topic, chain.recorded_at, stored.state)
        if link_hash(prev_hash, record) != chain.event_hash:
            return _bad(expected_leaf, position, expected_leaf,
                        f"the stored bytes of {stored.stream_id} v{stored.version} at position "
                        f"{position} do not match the chain hash: the event or its chain row "
                        "was changed")
        prev_hash, prev_recorded_at = chain.event_hash, chain.recorded_at
        last_position = position
        expected_leaf += 1
        if leaves is not None:
            leaves.append(_leaf_hash(prev_hash))
        if not seen_head and prev_hash.hex() == expected_head:
            seen_head = True
    progress.prev_hash, progress.prev_recorded_at = prev_hash, prev_recorded_at
    progress.expected_leaf, progress.last_position = expected_leaf, last_position
    progress.seen_head = seen_head
    return _finish(progress)
