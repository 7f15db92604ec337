"""Audit-trail entries from verified bytes: who, what, when and why come from the stored event.

The read model (`audit_feed`) only says which positions to show and what each event changed.
For every entry the stored event bytes at that position are hashed with the chain row's place
and checked against the chain row's hash, the chain row must link to the previous row, and
the event's own fields are shown. A read-model row that disagrees with its event is shown
with the event's values, flagged (`verified: false`, `problems`), and logged as a security
warning: a hand-edited read model cannot put a forged author in front of an auditor.

Each candidate arrives with everything its check needs (its chain row, its stored event and
the previous chain row's hash), read in the same select as the candidate itself
(projections/queries.py): checking a page costs no further query.

The filters choose candidates by indexed columns: the participant by the chain's stream (or
the read model's, where a chain row is missing), the recorded-time range by the chain's
recorded times, the user, role, site and event type by the read model's columns. Every entry is
then filtered again on the values shown (`matches`), so a read-model row edited into a
filter's range never shows there; one edited out of it is missed by that filter, and named by
`trial-ledger verify --read-models`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy.engine import Connection, Engine

from infra.ledger.chain import GENESIS_HASH, ChainedRecord, link_hash
from infra.ledger.store import ChainRow, StoredRow
from infra.logging import get_logger
from projections import rows as fold

FEED_FIELDS = ("position", "event_id", "participant_id", "stream_id", "type", "occurred_on",
               "recorded_at", "recorded_by", "role", "site_id", "reason")
log = get_logger("trial_ledger.audit")


@dataclass(frozen=True)
class AuditFilters:
    """What an audit-trail page is restricted to; None: no restriction.

    `sites` are the sites whose entries may be shown (the caller's readable sites, narrowed
    by a `site_id` filter; empty: none). Recorded times are canonical RFC 3339 text, both
    bounds inclusive (`recorded_to` is also where `as_of` ends the trail)."""

    participant_id: str | None = None
    user: str | None = None
    sites: tuple[str, ...] | None = None
    event_type: str | None = None
    recorded_from: str | None = None
    recorded_to: str | None = None
    role: str | None = None

    @classmethod
    def of(cls, *, participant_id: str | None = None, user: str | None = None,
           readable: tuple[str, ...] | None = None, site_id: str | None = None,
           event_type: str | None = None, recorded_from: str | None = None,
           recorded_to: str | None = None, as_of: str | None = None,
           role: str | None = None) -> AuditFilters:
        """The filters of a request: a `site_id` the caller may not read gives no sites at
        all, which answers exactly as a readable site with no entries does."""
        sites = readable
        if site_id is not None:
            sites = (site_id,) if readable is None or site_id in readable else ()
        upper = min((t for t in (recorded_to, as_of) if t is not None), default=None)
        return cls(participant_id, user, sites, event_type, recorded_from, upper, role)


def matches(entry: dict[str, Any], filters: AuditFilters) -> bool:
    """The filters, applied again to the values shown (the read model chose the candidates)."""
    recorded = entry["recorded_at"] or ""
    f = filters
    return ((f.participant_id is None or entry["participant_id"] == f.participant_id)
            and (f.user is None or entry["recorded_by"] == f.user)
            and (f.role is None or entry["role"] == f.role)
            and (f.event_type is None or entry["type"] == f.event_type)
            and (f.sites is None or entry["site_id"] in f.sites)
            and (f.recorded_from is None or recorded >= f.recorded_from)
            and (f.recorded_to is None or recorded <= f.recorded_to))


@dataclass(frozen=True)
class Candidate:
    """A position to show with what checking it takes: its chain row (None if missing), its
    stored event (None if missing), the hash of the chain row before it (None if missing),
    and its read-model row (None for events the projector has not reached yet)."""

    position: int
    chain: ChainRow | None
    stored: StoredRow | None
    previous: bytes | None
    feed: dict[str, Any] | None


@contextmanager
def reading(bind: Engine | Connection) -> Iterator[Connection]:
    """`bind` itself if it is a connection (one checkout for a whole page), else a new one,
    on PostgreSQL in autocommit: reads need no transaction, and none is then opened and
    rolled back around them (two round trips). Each statement reads one snapshot either way:
    read committed takes one per statement. SQLite's driver opens no transaction for a read,
    and switching its mode would cost more than it saves."""
    if isinstance(bind, Connection):
        yield bind
        return
    conn = bind.connect()
    if bind.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    with conn:
        yield conn


def blob(value: object) -> bytes:
    """Stored bytes as bytes, even where a hand edit left text or NULL in a blob column."""
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]


def _integrity(candidate: Candidate) -> list[str]:
    """Why the stored event at this position cannot be trusted (empty: it can)."""
    chain, stored = candidate.chain, candidate.stored
    if chain is None:
        return ["the event has no chain row: it cannot be verified"]
    if stored is None:
        return ["the stored event is missing: its row was deleted"]
    if (stored.stream_id, stored.version) != (chain.stream_id, chain.version):
        return [(f"the stored event is {stored.stream_id} v{stored.version} but the chain "
                 f"row names {chain.stream_id} v{chain.version}")]
    problems = []
    record = ChainedRecord(chain.leaf_index, chain.position, stored.stream_id, stored.version,
                           stored.topic, chain.recorded_at, stored.state)
    if link_hash(chain.prev_hash, record) != chain.event_hash:
        problems.append("the stored event's bytes do not match its chain hash: it was altered")
    expected = GENESIS_HASH if chain.leaf_index == 0 else candidate.previous
    if expected != chain.prev_hash:
        problems.append("the chain row does not link to the previous chain row")
    return problems


def _before(ledger: Any, stream_id: str, version: int) -> Any:
    """The stream's aggregate just before `version` (a read: nothing is written)."""
    if version <= 1:
        return None
    try:
        return ledger.repository.get(stream_id, version=version - 1)
    except AggregateNotFoundError:
        return None


def verified_entries(ledger: Any, candidates: list[Candidate]) -> list[dict[str, Any]]:
    """One entry per candidate, in order, with the stored event's own values."""
    return [_entry(ledger, candidate) for candidate in candidates]


def _entry(ledger: Any, candidate: Candidate) -> dict[str, Any]:
    problems = _integrity(candidate)
    stored = candidate.stored
    true: dict[str, Any] | None = None
    provenance: Any = None
    if stored is not None and candidate.chain is not None:
        try:
            event = ledger.mapper.to_domain_event(stored.as_stored_event())
            before = None if candidate.feed is not None else _before(
                ledger, stored.stream_id, stored.version)
            true = fold.audit_row(event, candidate.chain, before)
            provenance = getattr(event, "provenance", None)
        except Exception as error:  # noqa: BLE001 - undecodable bytes are reported, not raised
            problems.append(f"the stored event cannot be read: {type(error).__name__}")
    feed = candidate.feed
    if true is not None and feed is not None:
        forged = [name for name in FEED_FIELDS if feed[name] != true[name]]
        if forged:
            problems.append(f"the read model's {', '.join(forged)} disagree with the stored "
                            "event: the event's values are shown")
    shown = true if true is not None else feed
    if shown is None:
        entry: dict[str, Any] = {name: None for name in FEED_FIELDS}
        entry |= {"position": candidate.position, "changes": []}
    else:
        changes = feed["changes"] if feed is not None else shown["changes"]
        entry = {**{name: shown[name] for name in FEED_FIELDS},
                 "changes": json.loads(changes)}
    if provenance is not None:
        entry["provenance"] = provenance
    entry["verified"] = not problems
    if problems:
        entry["problems"] = problems
        log.warning("audit_entry_not_verified", position=candidate.position, problems=problems)
    return entry
