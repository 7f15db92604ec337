"""Reads over the projection tables (always the active generation), served from verified bytes.

The audit trail is read only: positions the projector has reached come from `audit_feed`
(which also gives each event's `changes`); later positions come straight from the log, so a
client sees its own writes at once without a read running the projector. Every entry's
who/what/when/why is taken from the stored event after its hash is checked
(projections/audit_trail.py).

The statements are plain SQL run on the driver, written once per filter combination: a page
is one checkout and, usually, two statements (where the read models stand, then the
candidates with their chain rows, stored events and previous chain hashes); the log's tail is
read only when the log has events the projector has not reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Connection, Engine

from infra.ledger.chain import parse_recorded_at
from infra.ledger.store import ChainRow, StoredRow
from projections.audit_trail import (
    FEED_FIELDS,
    AuditFilters,
    Candidate,
    blob,
    matches,
    reading,
    verified_entries,
)
from projections.runner import NAMES

__all__ = ["FEED_FIELDS", "AuditFilters", "audit_page", "participant_count",
           "participant_list"]
BATCH = 200
REPLACED = "\ufffd"  # what domain.text.storable puts in place of text a store cannot hold
PG_RECORDED_AT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
"""PostgreSQL's text of a `timestamptz` exactly as `format_recorded_at` writes it (as
infra/ledger/store.py reads chain rows)."""
_NAMED = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=512)
def _for(dialect: str, sql: str) -> str:
    """`sql`, written with PostgreSQL's driver placeholders (%(name)s), for `dialect`."""
    return sql if dialect == "postgresql" else _NAMED.sub(r":\1", sql)


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[Any]:
    return list(conn.exec_driver_sql(_for(conn.dialect.name, sql), params).all())


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _moment(conn: Connection, text: str) -> Any:
    """A recorded time as the chain's column compares it: timestamptz or canonical text."""
    return parse_recorded_at(text) if _postgres(conn) else text


# -- the audit trail -------------------------------------------------------------------------


STATE_SQL = """
SELECT g.generation,
       (SELECT p.position FROM projection_positions p
        WHERE p.name = %(feed)s AND p.generation = g.generation),
       (SELECT max(position) FROM ledger_chain){first}{last}
FROM (SELECT coalesce((SELECT generation FROM projection_active WHERE name = %(active)s), 1)
      AS generation) g
"""
FIRST_SQL = """,
       (SELECT position FROM ledger_chain WHERE recorded_at >= %(recorded_from)s
        ORDER BY recorded_at LIMIT 1)"""
LAST_SQL = """,
       (SELECT position FROM ledger_chain WHERE recorded_at <= %(recorded_to)s
        ORDER BY recorded_at DESC LIMIT 1)"""


@dataclass(frozen=True)
class FeedState:
    """Where the audit feed stands, and the positions a recorded-time range covers.

    The chain's recorded times rise strictly with its positions (infra/event_store.py
    forces them monotonic under the write lock), so the events recorded in [from, to] are
    exactly those at positions [first, last]; None: the range holds no event."""

    generation: int
    projected: int
    end: int | None
    first: int | None
    last: int | None


def feed_state(conn: Connection, filters: AuditFilters) -> FeedState:
    """The active generation, the audit feed's position in it, the log's last position and
    the recorded-time range's first and last positions (by the chain's recorded-time index),
    in one statement."""
    params: dict[str, Any] = {"feed": "audit_feed", "active": NAMES[0]}
    first = last = ""
    if filters.recorded_from is not None:
        first, params["recorded_from"] = FIRST_SQL, _moment(conn, filters.recorded_from)
    if filters.recorded_to is not None:
        last, params["recorded_to"] = LAST_SQL, _moment(conn, filters.recorded_to)
    row = _rows(conn, STATE_SQL.format(first=first, last=last), params)[0]
    bounds = iter(row[3:])  # one column per bound asked for, in this order
    lower = next(bounds) if filters.recorded_from is not None else None
    upper = next(bounds) if filters.recorded_to is not None else None
    return FeedState(int(row[0]), int(row[1] or 0), _position(row[2]), _position(lower),
                     _position(upper))


def _position(value: Any) -> int | None:
    return None if value is None else int(value)


def _checked_columns(conn: Connection) -> str:
    """A candidate's chain row, stored event and previous chain hash (aliases c, e, p)."""
    recorded = PG_RECORDED_AT.format("c.recorded_at") if _postgres(conn) else "c.recorded_at"
    return (f"c.leaf_index, c.position, c.stream_id, c.version, {recorded}, c.prev_hash, "
            "c.event_hash, e.originator_id, e.originator_version, e.topic, e.state, "
            "p.event_hash")


def _checked_joins(conn: Connection, position: str) -> str:
    column = "notification_id" if _postgres(conn) else "rowid"
    return (f"LEFT JOIN stored_events e ON e.{column} = {position} "
            "LEFT JOIN ledger_chain p ON p.leaf_index = c.leaf_index - 1")


def _checked(row: Any, at: int, position: int) -> tuple[ChainRow | None, StoredRow | None,
                                                      bytes | None]:
    """The chain row, stored event and previous hash in `row` from column `at` on."""
    leaf, stream = row[at], row[at + 7]
    chain = None if leaf is None else ChainRow(
        int(leaf), int(row[at + 1]), str(row[at + 2]), int(row[at + 3]), str(row[at + 4]),
        blob(row[at + 5]), blob(row[at + 6]))
    stored = None if stream is None else StoredRow(
        position, str(stream), int(row[at + 8]), str(row[at + 9]), blob(row[at + 10]))
    previous = None if row[at + 11] is None else blob(row[at + 11])
    return chain, stored, previous


FEED_COLUMNS = ", ".join(f"f.{name}" for name in (*FEED_FIELDS, "changes"))
PARTICIPANT_SQL = """
  AND f.position IN (
    SELECT position FROM ledger_chain
    WHERE stream_id = %(participant_id)s
      AND position + 0 > %(after)s AND position + 0 <= %(last)s
    UNION
    SELECT position FROM audit_feed
    WHERE generation = %(generation)s AND stream_id = %(participant_id)s
      AND position > %(after)s AND position <= %(last)s)
  AND coalesce(sc.stream_id, f.stream_id) = %(participant_id)s"""


def _projected(conn: Connection, generation: int, after: int, last: int, batch: int,
               filters: AuditFilters) -> list[Candidate]:
    """Read-model rows in (after, last] that pass the filters, in position order.

    The participant is matched on the chain's stream where there is a chain row, else on the
    read model's: only positions in (after, last] the chain or the read model gives that
    stream (both by index) are looked at, never a range scan of the whole feed. The user,
    site and event type are matched on the read model's indexed columns."""
    if filters.sites == ():
        return []
    params: dict[str, Any] = {"generation": generation, "after": after, "last": last,
                              "batch": batch}
    if filters.participant_id is not None:
        # The positions come from the stream's own rows (bounded there): a range on the
        # feed's position as well would lead the planner to scan that range instead. On the
        # chain, `position + 0` keeps the bounds off the position index, which a prepared
        # (generic) plan would otherwise scan over the whole range and intersect with the
        # stream's few rows.
        where = [PARTICIPANT_SQL]
        params["participant_id"] = filters.participant_id
    else:
        where = ["\n  AND f.position > %(after)s AND f.position <= %(last)s"]
    if filters.user is not None:
        where.append("\n  AND f.recorded_by = %(user)s")
        params["user"] = filters.user
    if filters.role is not None:
        where.append("\n  AND f.role = %(role)s")
        params["role"] = filters.role
    if filters.event_type is not None:
        where.append("\n  AND f.type = %(event_type)s")
        params["event_type"] = filters.event_type
    if filters.sites is not None:
        names = [f"site{i}" for i in range(len(filters.sites))]
        where.append(f"\n  AND f.site_id IN ({', '.join(f'%({n})s' for n in names)})")
        params |= dict(zip(names, filters.sites, strict=True))
    # The page's rows are chosen first (LIMIT inside), then joined to what checking them
    # takes: the planner then looks those rows up one by one instead of merging whole ranges.
    stream = (" LEFT JOIN ledger_chain sc ON sc.position = f.position"
              if filters.participant_id is not None else "")
    sql = (f"SELECT {FEED_COLUMNS}, {_checked_columns(conn)}\n"
           f"FROM (SELECT f.* FROM audit_feed f{stream}\n"
           f"      WHERE f.generation = %(generation)s{''.join(where)}\n"
           "      ORDER BY f.position LIMIT %(batch)s) f\n"
           f"LEFT JOIN ledger_chain c ON c.position = f.position "
           f"{_checked_joins(conn, 'f.position')}\nORDER BY f.position")
    found = []
    for row in _rows(conn, sql, params):
        position = int(row[0])
        feed = dict(zip(FEED_FIELDS, row, strict=False))
        feed["changes"] = row[len(FEED_FIELDS)]
        found.append(Candidate(position, *_checked(row, len(FEED_FIELDS) + 1, position), feed))
    return found


def _unprojected(conn: Connection, after: int, last: int, batch: int, participant_id: str | None
                 ) -> list[Candidate]:
    """Chain rows in (after, last] (beyond the projector): read from the log itself."""
    params: dict[str, Any] = {"after": after, "last": last, "batch": batch}
    stream = ""
    if participant_id is not None:
        stream, params["participant_id"] = " AND c.stream_id = %(participant_id)s", participant_id
    sql = (f"SELECT {_checked_columns(conn)}\nFROM ledger_chain c "
           f"{_checked_joins(conn, 'c.position')}\n"
           f"WHERE c.position > %(after)s AND c.position <= %(last)s{stream}\n"
           "ORDER BY c.position LIMIT %(batch)s")
    found = []
    for row in _rows(conn, sql, params):
        position = int(row[1])
        found.append(Candidate(position, *_checked(row, 0, position), None))
    return found


def _candidates(conn: Connection, after: int, batch: int, filters: AuditFilters
                ) -> Iterator[list[Candidate]]:
    state = feed_state(conn, filters)
    if (filters.recorded_from is not None and state.first is None) or (
            filters.recorded_to is not None and state.last is None):
        return  # nothing was recorded in the range
    cursor = after if state.first is None else max(after, state.first - 1)
    stop = state.projected if state.last is None else min(state.projected, state.last)
    while cursor < stop:
        found = _projected(conn, state.generation, cursor, stop, batch, filters)
        if not found:
            break
        yield found
        cursor = found[-1].position
        if len(found) < batch:  # the projected range holds no more matching rows
            break
    cursor = max(cursor, state.projected)
    end = state.end if state.last is None or state.end is None else min(state.end, state.last)
    while end is not None and cursor < end:
        found = _unprojected(conn, cursor, end, batch, filters.participant_id)
        if not found:
            return
        yield found
        cursor = found[-1].position


def audit_page(ledger: Any, bind: Engine | Connection, *, after: int, limit: int,
               filters: AuditFilters | None = None) -> dict[str, Any]:
    """One page of the audit trail after position `after`, and where the next page starts."""
    filters = filters or AuditFilters()
    entries: list[dict[str, Any]] = []
    next_after = after
    with reading(bind) as conn:  # one checkout for every query of the page
        for batch in _candidates(conn, after, min(limit, BATCH), filters):
            for candidate, entry in zip(batch, verified_entries(ledger, batch), strict=True):
                next_after = candidate.position
                if matches(entry, filters):
                    entries.append(entry)
                    if len(entries) == limit:
                        return {"entries": entries, "next_after": next_after}
    return {"entries": entries, "next_after": next_after}


# -- participants ----------------------------------------------------------------------------


SUMMARIES_STATE = """
WITH active AS (
  SELECT coalesce((SELECT generation FROM projection_active WHERE name = %(active)s), 1)
    AS generation),
tracked AS (
  SELECT a.generation, coalesce((SELECT p.position FROM projection_positions p
                                 WHERE p.name = %(summaries)s
                                   AND p.generation = a.generation), 0) AS position
  FROM active a),
changed AS (
  SELECT stream_id FROM ledger_chain WHERE position > (SELECT position FROM tracked))
"""
CHANGED_PARTICIPANTS = """
SELECT e.originator_id, NULL, NULL, NULL, 1
FROM stored_events e
WHERE e.originator_id IN (SELECT stream_id FROM changed)
  AND e.originator_version = 1 AND e.topic LIKE %(prefix)s
"""
PARTICIPANT_LIST_SQL = SUMMARIES_STATE + """
SELECT s.participant_id, s.site_id, s.status, s.version, 0
FROM participant_summaries s
WHERE s.generation = (SELECT generation FROM tracked)
  AND s.participant_id NOT IN (SELECT stream_id FROM changed)
UNION ALL""" + CHANGED_PARTICIPANTS + "ORDER BY 1"


def _summary_params(topic_prefix: str) -> dict[str, Any]:
    return {"active": NAMES[0], "summaries": "participant_summaries",
            "prefix": topic_prefix + "%"}


def participant_list(engine: Engine | Connection, topic_prefix: str
                     ) -> list[tuple[str, Any, Any, Any, bool]] | None:
    """Every participant, in stream id order: (participant_id, site_id, status, version,
    changed). Rows come from the active `participant_summaries`; a participant whose stream
    has events after the projector's position comes with `changed` and no values (fold it
    from the log).

    One statement reads the active generation, its position, the streams with chain rows
    after that position (an index range) and the rows, so all of them come from one snapshot
    of the store: a rebuild switching generations meanwhile cannot mix two generations.
    (Never None; callers still accept None, which meant a rebuild kept switching.)"""
    with reading(engine) as conn:
        rows = _rows(conn, PARTICIPANT_LIST_SQL, _summary_params(topic_prefix))
    return [(str(r[0]), r[1], r[2], r[3], bool(r[4])) for r in rows]


def participant_count(bind: Engine | Connection, sites: tuple[str, ...] | None,
                      topic_prefix: str) -> tuple[int, list[str]] | None:
    """What `participant_list` gives, counted in the store: (how many unchanged participants
    the read model places at `sites` (None: every site), the changed participants' ids, to
    be folded from the log). None when a row `participant_list` would give holds text made
    storable (domain.text.storable), whose true value may differ: fold everyone instead."""
    params = _summary_params(topic_prefix) | {"replaced": f"%{REPLACED}%"}
    at_sites = "1 = 1"
    if sites is not None:
        names = [f"site{i}" for i in range(len(sites))]
        at_sites = (f"s.site_id IN ({', '.join(f'%({n})s' for n in names)})" if sites
                    else "1 = 0")
        params |= dict(zip(names, sites, strict=True))
    sql = SUMMARIES_STATE + f"""
SELECT NULL, count(CASE WHEN {at_sites} THEN 1 END),
       count(CASE WHEN s.participant_id LIKE %(replaced)s OR s.site_id LIKE %(replaced)s
                    OR s.status LIKE %(replaced)s THEN 1 END), NULL, 0
FROM participant_summaries s
WHERE s.generation = (SELECT generation FROM tracked)
  AND s.participant_id NOT IN (SELECT stream_id FROM changed)
UNION ALL""" + CHANGED_PARTICIPANTS
    with reading(bind) as conn:
        rows = _rows(conn, sql, params)
    counts = next(r for r in rows if not r[4])
    changed = [str(r[0]) for r in rows if r[4]]
    if counts[2] or any(REPLACED in pid for pid in changed):
        return None
    return int(counts[1]), changed
