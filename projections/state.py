"""State hashes of the read models (a rebuild must reproduce them) and the rebuild itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from projections.runner import NAMES, Projector, ensure_generation
from projections.tables import PROJECTION_TABLES, projection_active, projection_positions


def state_hashes(engine: Engine, generation: int | None = None) -> dict[str, dict[str, Any]]:
    """Per projection: its tracked position, row count and SHA-256 over its rows in key order."""
    out = {}
    with engine.connect() as conn:
        if generation is None:
            from projections.runner import active_generation

            generation = active_generation(conn)
        for name, table in PROJECTION_TABLES.items():
            keys = [c for c in table.primary_key.columns if c.name != "generation"]
            columns = [c for c in table.columns if c.name != "generation"]
            digest = hashlib.sha256()
            count = 0
            query = (sa.select(*columns).where(table.c.generation == generation)
                     .order_by(*keys))
            for row in conn.execute(query):
                digest.update(json.dumps(list(row), sort_keys=True, default=str,
                                         separators=(",", ":")).encode() + b"\n")
                count += 1
            position = conn.execute(sa.select(projection_positions.c.position).where(
                projection_positions.c.name == name,
                projection_positions.c.generation == generation)).scalar()
            out[name] = {"name": name, "generation": generation, "position": int(position or 0),
                         "rows": count, "state_hash": digest.hexdigest()}
    return out


REBUILD_BATCH = 10_000
"""Events per batch of a rebuild. The generation being built has no readers, so a larger batch
only means fewer round trips and fewer re-derivations of each participant's summary and
timeline (once per batch that touches it); its rows are derived before its transaction, which
holds the write lock only for the bulk writes. Memory grows with it (the batch's stored bytes
and rows are held until its transaction)."""


def rebuild(ledger: Any, engine: Engine, progress: Callable[[int], None] | None = None) -> int:
    """Replay the whole log into a fresh generation, then switch readers over atomically."""
    with engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(projection_positions.c.generation))).scalar()
    fresh = int(latest or 0) + 1
    ensure_generation(engine, fresh)
    projector = Projector(ledger, engine, generation=fresh)
    projector.catch_up(limit=REBUILD_BATCH, progress=progress)
    with engine.begin() as conn:
        old = conn.execute(sa.select(projection_active.c.generation)).scalars().all()
        for name in NAMES:
            conn.execute(projection_active.delete().where(projection_active.c.name == name))
            conn.execute(projection_active.insert().values(name=name, generation=fresh))
        for generation in set(old):
            for table in PROJECTION_TABLES.values():
                conn.execute(table.delete().where(table.c.generation == generation))
            conn.execute(projection_positions.delete().where(
                projection_positions.c.generation == generation))
    # Events recorded during the switch are picked up by the next catch-up of the live projector.
    return fresh
