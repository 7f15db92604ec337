"""`verify --read-models`: rebuild every read model from the log and compare it with the live one.

The rebuild goes into a scratch SQLite database in a temporary directory, not into a new
generation of the store: the check is a read (GET /api/v1/ledger/verify?read_models=true) and
must not write, and a scratch generation in a SQLite store would hold its write lock for the
whole replay. The replay stops at the live read models' tracked position, so the two state
hashes (ADR 0004) describe the same prefix of the log.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from projections.runner import Projector, active_generation, ensure_generation
from projections.state import state_hashes
from projections.tables import PROJECTION_TABLES, metadata, projection_positions

SCRATCH_GENERATION = 1
SNAPSHOT_ATTEMPTS = 5


@dataclass(frozen=True)
class ReadModelsReport:
    ok: bool
    position: int
    differing: list[str] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.ok:
            return (f"read models: {len(self.details)} read models match a rebuild from the "
                    f"log at position {self.position}")
        named = "; ".join(f"{name} (first differing row {self.details[name]['first_difference']})"
                          for name in self.differing)
        return (f"read models: FAILED: differ from a rebuild from the log at position "
                f"{self.position}: {named}")


def _live_snapshot(engine: Engine) -> tuple[int, int, dict[str, dict[str, Any]]]:
    """The live generation, its tracked position and its state hashes, read while no batch
    committed in between (positions only move forward, with their rows)."""
    for _ in range(SNAPSHOT_ATTEMPTS):
        before = _positions(engine)
        hashes = state_hashes(engine)
        if _positions(engine) == before:
            generation = next(iter(hashes.values()))["generation"]
            return generation, min(r["position"] for r in hashes.values()), hashes
    raise RuntimeError("the read models kept moving while being hashed: try again")


def _positions(engine: Engine) -> tuple[int, list[int]]:
    with engine.connect() as conn:
        generation = active_generation(conn)
        positions = conn.execute(sa.select(projection_positions.c.position).where(
            projection_positions.c.generation == generation).order_by(
            projection_positions.c.name)).scalars().all()
    return generation, [int(p) for p in positions]


def _rows(engine: Engine, name: str, generation: int) -> Iterator[tuple[dict[str, Any], str]]:
    """(key, canonical row text) in key order, as the state hash sees them."""
    table = PROJECTION_TABLES[name]
    keys = [c for c in table.primary_key.columns if c.name != "generation"]
    columns = [c for c in table.columns if c.name != "generation"]
    with engine.connect() as conn:
        query = sa.select(*columns).where(table.c.generation == generation).order_by(*keys)
        for row in conn.execute(query):
            text = json.dumps(list(row), sort_keys=True, default=str, separators=(",", ":"))
            yield {c.name: getattr(row, c.name) for c in keys}, text


def _first_difference(live: Engine, generation: int, scratch: Engine, name: str
                      ) -> dict[str, Any] | None:
    pairs = itertools.zip_longest(_rows(live, name, generation),
                                  _rows(scratch, name, SCRATCH_GENERATION))
    for have, want in pairs:
        if have is None or want is None or have != want:
            return (have or want)[0]
    return None


def verify_read_models(ledger: Any, engine: Engine) -> ReadModelsReport:
    """Rebuild every read model in a scratch store up to the live position and compare."""
    generation, position, live = _live_snapshot(engine)
    with tempfile.TemporaryDirectory(prefix="trial-ledger-read-models-") as directory:
        scratch = sa.create_engine(f"sqlite:///{Path(directory) / 'scratch.db'}")
        try:
            metadata.create_all(scratch)
            ensure_generation(scratch, SCRATCH_GENERATION)
            Projector(ledger, engine, generation=SCRATCH_GENERATION,
                      target=scratch).catch_up(until=position)
            rebuilt = state_hashes(scratch, SCRATCH_GENERATION)
            details: dict[str, dict[str, Any]] = {}
            differing = []
            for name, have in live.items():
                want = rebuilt[name]
                same = (have["rows"], have["state_hash"]) == (want["rows"], want["state_hash"])
                details[name] = {"live_state_hash": have["state_hash"], "live_rows": have["rows"],
                                 "rebuilt_state_hash": want["state_hash"],
                                 "rebuilt_rows": want["rows"], "first_difference": None}
                if not same:
                    differing.append(name)
                    details[name]["first_difference"] = _first_difference(
                        engine, generation, scratch, name)
        finally:
            scratch.dispose()
    return ReadModelsReport(not differing, position, differing, details)
