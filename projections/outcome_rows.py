"""Reads of the bitemporal `participant_outcomes` read model, as of any recorded time.

The rows that were current at a position P are those with from_position <= P < to_position:
one indexed select for the whole study. P is the last position recorded at or before the
asked time (now: the head), capped at how far the projector has come; participants with
events after the cap and up to P are named in `changed`, for the caller to fold from the log,
so an answer is exact whatever the projector's lag. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from infra.tables import ledger_chain
from projections.runner import active_generation
from projections.tables import participant_outcomes, projection_positions

ATTEMPTS = 5

CHANGED_SQL = """
SELECT DISTINCT c.stream_id FROM ledger_chain c
WHERE c.position > :after AND c.position <= :upto
AND EXISTS (SELECT 1 FROM stored_events s WHERE s.originator_id = c.stream_id
            AND s.originator_version = 1 AND s.topic LIKE :prefix)
"""


@dataclass(frozen=True)
class OutcomeRows:
    rows: list[tuple[Any, ...]]
    """(participant_id, site_id, enrolled_on, settled_from, settled, facts) of each participant
    the read model holds at the position, except those in `changed`."""
    changed: list[str]
    """Participants with events the read model does not hold yet (fold them from the log)."""


def outcome_rows(engine: Engine, topic_prefix: str, as_of: str | None,
                 sites: tuple[str, ...] | None = None) -> OutcomeRows | None:
    """The participants' outcome rows as of `as_of` (None: now) at `sites` (None: all).
    None if a rebuild kept switching generations meanwhile."""
    cols = participant_outcomes.c
    with engine.connect() as conn:
        for _ in range(ATTEMPTS):
            generation = active_generation(conn)
            projected = int(conn.execute(sa.select(projection_positions.c.position).where(
                projection_positions.c.name == "participant_outcomes",
                projection_positions.c.generation == generation)).scalar() or 0)
            if as_of is None:
                upto = int(conn.execute(sa.select(sa.func.max(ledger_chain.c.position))
                                        ).scalar() or 0)
            else:
                upto = int(conn.execute(sa.select(sa.func.max(ledger_chain.c.position)).where(
                    ledger_chain.c.recorded_at <= as_of)).scalar() or 0)
            at = min(projected, upto)
            changed = sorted(str(s) for s in conn.execute(sa.text(CHANGED_SQL), {
                "after": at, "upto": upto, "prefix": topic_prefix + "%"}).scalars())
            query = sa.select(cols.participant_id, cols.site_id, cols.enrolled_on,
                              cols.settled_from, cols.settled, cols.facts).where(
                cols.generation == generation, cols.from_position <= at, cols.to_position > at)
            if sites is not None:
                query = query.where(cols.site_id.in_(sites))
            skip = set(changed)
            rows = [tuple(r) for r in conn.execute(query) if r[0] not in skip]
            if active_generation(conn) == generation:
                return OutcomeRows(rows, changed)
            conn.rollback()
    return None
