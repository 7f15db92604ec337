"""Audit-trail entries from verified bytes: who, what, when and why come from the stored event.

The read model (`audit_feed`) only says which positions to show and what each event changed.
For every entry the stored event bytes at that position are hashed with the chain row's place
and checked against the chain row's hash, the chain row must link to the previous row, and
the event's own fields are shown. A read-model row that disagrees with its event is shown
with the event's values, flagged (`verified: false`, `problems`), and logged as a security
warning: a hand-edited read model cannot put a forged author in front of an auditor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from sqlalchemy.engine import Connection, Engine

from infra.ledger.chain import GENESIS_HASH, ChainedRecord, link_hash
from infra.ledger.store import ChainRow, StoredRow
from infra.logging import get_logger
from infra.tables import ledger_chain
from projections import rows as fold

FEED_FIELDS = ("position", "event_id", "participant_id", "stream_id", "type", "occurred_on",
               "recorded_at", "recorded_by", "role", "site_id", "reason")
log = get_logger("trial_ledger.audit")


@dataclass(frozen=True)
class Candidate:
    """A position to show: its chain row (None if missing) and its read-model row (None for
    events the projector has not reached yet)."""

    position: int
    chain: ChainRow | None
    feed: dict[str, Any] | None


@contextmanager
def connected(bind: Engine | Connection) -> Iterator[Connection]:
    """`bind` itself if it is a connection (one checkout for a whole page), else a new one."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.connect() as conn:
        yield conn


def _stored_at(engine: Engine | Connection, positions: list[int]) -> dict[int, StoredRow]:
    if not positions:
        return {}
    col = "notification_id" if engine.dialect.name == "postgresql" else "rowid"
    statement = sa.text(
        f"SELECT {col} AS position, originator_id, originator_version, topic, state "
        f"FROM stored_events WHERE {col} IN :positions"
    ).bindparams(sa.bindparam("positions", expanding=True))
    with connected(engine) as conn:
        rows = conn.execute(statement, {"positions": positions}).all()
    return {int(r.position): StoredRow(int(r.position), str(r.originator_id),
                                       int(r.originator_version), str(r.topic),
                                       _blob(r.state)) for r in rows}


def _blob(value: object) -> bytes:
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]


def _hashes_of_leaves(engine: Engine | Connection, leaves: list[int]) -> dict[int, bytes]:
    if not leaves:
        return {}
    query = sa.select(ledger_chain.c.leaf_index, ledger_chain.c.event_hash).where(
        ledger_chain.c.leaf_index.in_(leaves))
    with connected(engine) as conn:
        return {int(r.leaf_index): _blob(r.event_hash) for r in conn.execute(query)}


def _integrity(chain: ChainRow | None, stored: StoredRow | None,
               previous: dict[int, bytes]) -> list[str]:
    """Why the stored event at this position cannot be trusted (empty: it can)."""
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
    expected = GENESIS_HASH if chain.leaf_index == 0 else previous.get(chain.leaf_index - 1)
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


def verified_entries(ledger: Any, engine: Engine | Connection, candidates: list[Candidate]
                     ) -> list[dict[str, Any]]:
    """One entry per candidate, in order, with the stored event's own values."""
    stored = _stored_at(engine, [c.position for c in candidates])
    previous = _hashes_of_leaves(engine, sorted({c.chain.leaf_index - 1 for c in candidates
                                                 if c.chain is not None
                                                 and c.chain.leaf_index > 0}))
    return [_entry(ledger, c, stored.get(c.position), previous) for c in candidates]


def _entry(ledger: Any, candidate: Candidate, stored: StoredRow | None,
           previous: dict[int, bytes]) -> dict[str, Any]:
    problems = _integrity(candidate.chain, stored, previous)
    true: dict[str, Any] | None = None
    if stored is not None and candidate.chain is not None:
        try:
            event = ledger.mapper.to_domain_event(stored.as_stored_event())
            before = None if candidate.feed is not None else _before(
                ledger, stored.stream_id, stored.version)
            true = fold.audit_row(event, candidate.chain, before)
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
    entry["verified"] = not problems
    if problems:
        entry["problems"] = problems
        log.warning("audit_entry_not_verified", position=candidate.position, problems=problems)
    return entry


def matches(entry: dict[str, Any], *, participant_id: str | None, user: str | None,
            as_of: str | None, sites: tuple[str, ...] | None) -> bool:
    """The filters, applied again to the values shown (the read model chose the candidates)."""
    return ((participant_id is None or entry["participant_id"] == participant_id)
            and (user is None or entry["recorded_by"] == user)
            and (as_of is None or (entry["recorded_at"] or "") <= as_of)
            and (sites is None or entry["site_id"] in sites))
