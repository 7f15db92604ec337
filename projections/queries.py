"""Reads over the projection tables (always the active generation)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from projections.runner import active_generation
from projections.tables import audit_feed

FEED_FIELDS = ("position", "event_id", "participant_id", "stream_id", "type", "occurred_on",
               "recorded_at", "recorded_by", "role", "site_id", "reason")


def audit_page(engine: Engine, *, after: int, limit: int, participant_id: str | None = None,
               user: str | None = None, as_of: str | None = None,
               sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """One page of the audit feed after position `after`, and where the next page starts."""
    with engine.connect() as conn:
        generation = active_generation(conn)
        query = sa.select(audit_feed).where(audit_feed.c.generation == generation,
                                            audit_feed.c.position > after)
        if participant_id is not None:
            query = query.where(audit_feed.c.participant_id == participant_id)
        if user is not None:
            query = query.where(audit_feed.c.recorded_by == user)
        if as_of is not None:
            query = query.where(audit_feed.c.recorded_at <= as_of)
        if sites is not None:
            query = query.where(audit_feed.c.site_id.in_(sites))
        rows = conn.execute(query.order_by(audit_feed.c.position).limit(limit)).all()
    entries = [{**{f: getattr(r, f) for f in FEED_FIELDS}, "changes": json.loads(r.changes)}
               for r in rows]
    return {"entries": entries, "next_after": entries[-1]["position"] if entries else after}
