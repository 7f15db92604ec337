"""bench/reads.py's comparison side: the bare SELECTs each timed read is set against, the
paths the indexed reads replaced, the targets of the filtered audit-trail read, and the query
plans `--explain` prints. (See bench/reads.py's docstring for how each is used.)"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa


def _col(engine: sa.Engine) -> str:
    return "notification_id" if engine.dialect.name == "postgresql" else "rowid"


def peer_index_row(engine: sa.Engine) -> Callable[[str], None]:
    statement = sa.text("SELECT position FROM ledger_event_ids WHERE event_id = :e")

    def call(event_id: str) -> None:
        with engine.connect() as conn:
            assert conn.execute(statement, {"e": event_id}).scalar() is not None
    return call


def peer_summaries(engine: sa.Engine, expected: int) -> Callable[[Any], None]:
    statement = sa.text("SELECT participant_id, site_id, status, version "
                        "FROM participant_summaries WHERE generation = 1 "
                        "ORDER BY participant_id")

    def call(_: Any) -> None:
        with engine.connect() as conn:
            assert len(conn.execute(statement).all()) == expected
    return call


def peer_feed_rows(engine: sa.Engine, expected: int) -> Callable[[str], None]:
    feed = sa.text("SELECT * FROM audit_feed WHERE generation = 1 AND stream_id = :s "
                   "ORDER BY position LIMIT 100")
    stored = sa.text(f"SELECT {_col(engine)}, state FROM stored_events "
                     f"WHERE {_col(engine)} IN :p").bindparams(
        sa.bindparam("p", expanding=True))

    def call(pid: str) -> None:
        with engine.connect() as conn:
            rows = conn.execute(feed, {"s": pid}).all()
            states = conn.execute(stored, {"p": [r.position for r in rows]}).all()
        assert len(rows) == len(states) == expected
    return call


FILTER_TYPES = ("DoseAdministered", "FollowUpContact", "TumorAssessed", "EntryCorrected")
FILTER_PAGE = 100


WINDOW_SQL = """
SELECT (SELECT position FROM ledger_chain WHERE recorded_at >= :low
        ORDER BY recorded_at LIMIT 1),
       (SELECT position FROM ledger_chain WHERE recorded_at <= :high
        ORDER BY recorded_at DESC LIMIT 1)
"""


def _window_positions(conn: sa.Connection, window: tuple[str, str]) -> tuple[int, int]:
    """The first and last chain positions recorded in the window, by the recorded-time
    index (recorded times rise with positions); (0, -1) when it holds none."""
    from infra.ledger.chain import parse_recorded_at

    postgres = conn.dialect.name == "postgresql"
    low, high = (parse_recorded_at(t) if postgres else t for t in window)
    first, last = conn.execute(sa.text(WINDOW_SQL), {"low": low, "high": high}).one()
    return (0, -1) if first is None or last is None else (int(first), int(last))


FILTERED_FEED_SQL = """
SELECT * FROM audit_feed WHERE generation = 1 AND site_id = :site AND type = :type
AND position >= :first AND position <= :last ORDER BY position LIMIT :limit
"""


def peer_filtered(engine: sa.Engine) -> Callable[[tuple[Any, ...]], None]:
    """Bare selects for a filtered page: the window's positions, the feed rows, their bytes."""
    feed = sa.text(FILTERED_FEED_SQL)
    stored = sa.text(f"SELECT {_col(engine)}, state FROM stored_events "
                     f"WHERE {_col(engine)} IN :p").bindparams(
        sa.bindparam("p", expanding=True))

    def call(target: tuple[Any, ...]) -> None:
        site, type_, window, expected = target
        with engine.connect() as conn:
            first, last = _window_positions(conn, window)
            rows = conn.execute(feed, {"site": site, "type": type_, "first": first,
                                       "last": last, "limit": FILTER_PAGE}).all()
            states = conn.execute(stored, {"p": [r.position for r in rows]}).all()
        assert len(rows) == len(states) == expected
    return call


def filter_targets(engine: sa.Engine, rng: random.Random, reads: int, window: int
                   ) -> list[tuple[str, str, tuple[str, str], int]]:
    """(site, event type, recorded-time window, entries expected on the first page): the
    window spans `window` consecutive events of the chain from a random one."""
    with engine.connect() as conn:
        end = int(conn.execute(sa.text("SELECT max(leaf_index) FROM ledger_chain")).scalar()
                  or 0)
        at = sa.text("SELECT position, recorded_at FROM ledger_chain WHERE leaf_index = :i")
        count = sa.text(
            "SELECT count(*) FROM (SELECT 1 FROM audit_feed WHERE generation = 1 AND "
            "site_id = :site AND type = :type AND position >= :first AND position <= :last "
            "LIMIT :limit) page")
        targets = []
        for _ in range(reads):
            start = rng.randrange(0, max(1, end - window))
            low = conn.execute(at, {"i": start}).one()
            high = conn.execute(at, {"i": min(end, start + window)}).one()
            site, type_ = rng.choice(("S01", "S02", "S03", "S04")), rng.choice(FILTER_TYPES)
            found = conn.execute(count, {"site": site, "type": type_, "first": low.position,
                                         "last": high.position, "limit": FILTER_PAGE}).scalar()
            targets.append((site, type_, (_text(low.recorded_at), _text(high.recorded_at)),
                            int(found or 0)))
    return targets


def _text(recorded_at: Any) -> str:
    from infra.ledger.chain import format_recorded_at

    return recorded_at if isinstance(recorded_at, str) else format_recorded_at(recorded_at)


OLD_AUDIT_SQL = """
SELECT a.*, c.leaf_index FROM audit_feed a LEFT JOIN ledger_chain c ON c.position = a.position
WHERE a.generation = 1 AND a.position > 0 AND a.position <= :last
AND coalesce(c.stream_id, a.stream_id) = :s ORDER BY a.position LIMIT 100
"""


def ours_audit_select(engine: sa.Engine, last: int, expected: int) -> Callable[[str], None]:
    """The audit trail's candidate select for one participant (projections.queries)."""
    from projections.audit_trail import AuditFilters, reading
    from projections.queries import _projected

    def call(pid: str) -> None:
        with reading(engine) as conn:
            rows = _projected(conn, 1, 0, last, 100, AuditFilters(participant_id=pid))
        assert len(rows) == expected
    return call


def before_audit(engine: sa.Engine, last: int) -> Callable[[str], None]:
    statement = sa.text(OLD_AUDIT_SQL)

    def call(pid: str) -> None:
        with engine.connect() as conn:
            conn.execute(statement, {"s": pid, "last": last}).all()
    return call


def explain(engine: sa.Engine, client: Any, headers: dict[str, str], pid: str,
            filtered: tuple[Any, ...]) -> list[str]:
    """Query plans of every statement the list read and each audit-trail read run."""
    site, type_, (low, high), _ = filtered
    reads = {
        "participants list": ("/api/v1/participants", {}),
        "audit trail by participant": ("/api/v1/audit-trail", {"participant_id": pid}),
        "audit trail by site": ("/api/v1/audit-trail", {"site_id": site}),
        # `bench` recorded the two accounts; bench.coordinator every clinical event, which
        # the planners rightly read in position order instead (the combined read below).
        "audit trail by user": ("/api/v1/audit-trail", {"user": "bench"}),
        "audit trail by event type": ("/api/v1/audit-trail", {"event_type": type_}),
        "audit trail by recorded time": ("/api/v1/audit-trail", {"recorded_from": low,
                                                                 "recorded_to": high}),
        "audit trail by site, user, type and time": ("/api/v1/audit-trail", {
            "site_id": site, "user": "bench.coordinator", "event_type": type_,
            "recorded_from": low, "recorded_to": high}),
    }
    postgres = engine.dialect.name == "postgresql"
    app_engine = client.app.state.engine
    out = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, (path, params) in reads.items():
            captured: list[tuple[str, Any]] = []

            def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                        _context: Any, _many: bool, into: list[tuple[str, Any]] = captured
                        ) -> None:
                into.append((statement, parameters))

            sa.event.listen(app_engine, "before_cursor_execute", capture)
            try:
                assert client.get(path, headers=headers, params=params).status_code == 200
            finally:
                sa.event.remove(app_engine, "before_cursor_execute", capture)
            out.append(f"== {name}: GET {path} {params}")
            for statement, parameters in captured:
                prefix = "EXPLAIN ANALYZE " if postgres else "EXPLAIN QUERY PLAN "
                cursor.execute(prefix + statement, parameters)
                plan = "\n".join(" | ".join(str(v) for v in row) for row in cursor.fetchall())
                out.append(f"-- {' '.join(statement.split())[:160]}...\n{plan}")
        cursor.close()
    finally:
        raw.close()
    return out
