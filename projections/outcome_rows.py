"""Reads of the bitemporal `participant_outcomes` read model, as of any recorded time.

The rows that were current at a position P are those with from_position <= P < to_position:
one indexed select for the whole study. P is the last position recorded at or before the
asked time (now: the head), capped at how far the projector has come; participants with
events after the cap and up to P are named in `changed`, for the caller to fold from the log,
so an answer is exact whatever the projector's lag. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from infra.tables import ledger_chain
from projections.runner import NAMES, active_generation
from projections.tables import participant_outcomes, projection_active, projection_positions

ATTEMPTS = 5

CHANGED_STREAMS_SQL = ("SELECT DISTINCT stream_id FROM ledger_chain "
                       "WHERE position > :after AND position <= :upto")
PARTICIPANT_STREAMS_SQL = ("SELECT originator_id FROM stored_events WHERE originator_id IN :ids "
                           "AND originator_version = 1 AND topic LIKE :prefix")
"""Two selects rather than one: joined, PostgreSQL's planner starts from every participant's
first event rather than from the (usually empty) position range."""


PAYLOAD = "settled_from, settled, vital, criteria, adverse_events"
FEW = 200
"""Up to this many rows' payloads are fetched by key; more, with one select of them all."""


@dataclass(frozen=True)
class OutcomeRows:
    generation: int
    rows: list[tuple[Any, ...]]
    """(participant_id, from_position, site_id, enrolled_on) of each participant the read
    model holds at the position, except those in `changed`."""
    payloads: dict[tuple[str, int], tuple[str, str, str, str, str]]
    """(settled_from, settled, vital, criteria, adverse_events) by (participant_id,
    from_position), for the rows not in `have`."""
    changed: list[str]
    """Participants with events the read model does not hold yet (fold them from the log)."""


def outcome_rows(engine: Engine, topic_prefix: str, as_of: str | None,
                 sites: tuple[str, ...] | None = None,
                 have: Container[tuple[int, str, int]] = ()) -> OutcomeRows | None:
    """The participants' outcome rows as of `as_of` (None: now) at `sites` (None: all), with
    the payloads of those whose (generation, participant, from_position) is not in `have`
    (rows never change what they hold, so a caller may keep what it decoded before).
    None if a rebuild kept switching generations meanwhile."""
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        for _ in range(ATTEMPTS):
            generation, at, changed, projected = _held(conn, topic_prefix, as_of)
            skip = set(changed)
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                mark = "%s" if postgres else "?"
                where = (f"WHERE generation = {mark} AND to_position > {mark} "
                         f"AND from_position <= {mark}")
                if at == projected:
                    # The rows current at the projector's position: each participant's
                    # summary names its current row (its last event's position), and the
                    # summaries are a small, dense table.
                    cursor.execute(f"SELECT participant_id, last_position, site_id, enrolled_on "
                                   f"FROM participant_summaries WHERE generation = {mark}",
                                   (generation,))
                else:
                    cursor.execute(f"SELECT participant_id, from_position, site_id, enrolled_on "
                                   f"FROM participant_outcomes {where}", (generation, at, at))
                rows = [row for row in cursor.fetchall() if row[0] not in skip
                        and (sites is None or row[2] in sites)]
                missing = [(row[0], row[1]) for row in rows
                           if (generation, row[0], row[1]) not in have]
                payloads: dict[tuple[str, int], tuple[str, str, str, str, str]] = {}
                if len(missing) > FEW:
                    cursor.execute(f"SELECT participant_id, from_position, {PAYLOAD} "
                                   f"FROM participant_outcomes {where}", (generation, at, at))
                    wanted = set(missing)
                    payloads = {(r[0], r[1]): (r[2], r[3], r[4], r[5], r[6])
                                for r in cursor.fetchall() if (r[0], r[1]) in wanted}
                else:
                    for pid, start in missing:
                        cursor.execute(
                            f"SELECT {PAYLOAD} FROM participant_outcomes WHERE "
                            f"generation = {mark} AND participant_id = {mark} "
                            f"AND from_position = {mark}", (generation, pid, start))
                        found = cursor.fetchone()
                        if found is not None:
                            payloads[(pid, start)] = (found[0], found[1], found[2], found[3], found[4])
            finally:
                cursor.close()
            if len(payloads) == len(missing) and _unchanged(conn, generation, bool(rows)):
                return OutcomeRows(generation, rows, payloads, changed)
            conn.rollback()
    return None


def _held(conn: Connection, topic_prefix: str, as_of: str | None
          ) -> tuple[int, int, list[str], int]:
    """The active generation; the position P its rows are read at (the last position recorded
    at or before `as_of`, capped at how far the projector has come); the participants with
    events after P and up to `as_of` (fold them from the log); how far the projector has
    come. Two statements."""
    last = sa.select(sa.func.max(ledger_chain.c.position))
    if as_of is not None:
        last = last.where(ledger_chain.c.recorded_at <= as_of)
    found = conn.execute(
        sa.select(projection_active.c.generation, projection_positions.c.position,
                  last.scalar_subquery())
        .join_from(projection_active, projection_positions, sa.and_(
            projection_positions.c.generation == projection_active.c.generation,
            projection_positions.c.name == "participant_outcomes"))
        .where(projection_active.c.name == NAMES[0])).first()
    if found is None:
        generation, projected = active_generation(conn), 0
        upto = int(conn.execute(last).scalar() or 0)
    else:
        generation, projected, upto = int(found[0]), int(found[1]), int(found[2] or 0)
    at = min(projected, upto)
    streams = list(conn.execute(sa.text(CHANGED_STREAMS_SQL),
                                {"after": at, "upto": upto}).scalars())
    changed: list[str] = []
    if streams:
        changed = sorted(str(s) for s in conn.execute(
            sa.text(PARTICIPANT_STREAMS_SQL).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": streams, "prefix": topic_prefix + "%"}).scalars())
    return generation, at, changed, projected


def _unchanged(conn: Connection, generation: int, found: bool = False) -> bool:
    """Whether rows read of `generation` are its rows: a rebuild deletes a generation's rows in
    the transaction that makes another one active, so a select that found rows of it ran
    before that (each select sees all of that transaction or none of it); one that found none
    may have run after, so then the generation must still be the active one."""
    return found or active_generation(conn) == generation


@dataclass(frozen=True)
class ParticipantRows:
    rows: list[tuple[str, str, str, int]]
    """(participant_id, site_id, status, version) of each participant the read model holds at
    the position, except those in `changed`."""
    changed: list[str]
    """Participants with events the read model does not hold yet (fold them from the log)."""


def participant_rows(engine: Engine, topic_prefix: str, as_of: str | None
                     ) -> ParticipantRows | None:
    """Every participant enrolled as of `as_of` (None: now), in the state the outcome rows
    hold for them then. None if a rebuild kept switching generations meanwhile."""
    cols = participant_outcomes.c
    with engine.connect() as conn:
        for _ in range(ATTEMPTS):
            generation, at, changed, _ = _held(conn, topic_prefix, as_of)
            skip = set(changed)
            rows = [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in conn.execute(
                sa.select(cols.participant_id, cols.site_id, cols.status, cols.version).where(
                    cols.generation == generation, cols.to_position > at,
                    cols.from_position <= at)) if r[0] not in skip]
            if _unchanged(conn, generation, bool(rows)):
                return ParticipantRows(rows, changed)
            conn.rollback()
    return None
