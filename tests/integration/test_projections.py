"""Read models follow the log exactly once, survive races and rebuild to the same state."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from projections.runner import Projector
from projections.state import rebuild, state_hashes
from projections.tables import audit_feed, participant_summaries
from services.application import TrialLedger
from tests import story
from tests.integration.conftest import post, write_story


def _feed(engine: sa.Engine) -> Sequence[sa.Row[Any]]:
    with engine.connect() as conn:
        return conn.execute(sa.select(audit_feed).order_by(audit_feed.c.position)).all()


def test_the_projector_applies_each_event_once(ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    projector = Projector(ledger, engine)
    assert projector.catch_up() == 6
    assert projector.catch_up() == 0
    feed = _feed(engine)
    assert [r.position for r in feed] == [r.position for r in recorded]
    correction = feed[-1]
    assert correction.type == "EntryCorrected" and correction.reason == "transcription error"
    assert json.loads(correction.changes) == [
        {"field": "data.dose_mg", "old": 20.0, "new": 200.0}]
    with engine.connect() as conn:
        summaries = conn.execute(sa.select(participant_summaries).order_by(
            participant_summaries.c.participant_id)).all()
    assert [(s.participant_id, s.version, s.treatment_start_on) for s in summaries] == [
        ("HCC-01-001", 4, "2026-01-12"), ("HCC-01-002", 2, "2026-01-13")]


def test_racing_projectors_never_apply_an_event_twice(ledger: TrialLedger,
                                                      engine: sa.Engine) -> None:
    post(ledger, "HCC-01-001", story.enrollment())
    for day in range(1, 29):
        post(ledger, "HCC-01-001", story.follow_up(f"2026-02-{day:02d}"))
    projectors = [Projector(ledger, engine) for _ in range(3)]
    threads = [threading.Thread(target=p.catch_up, kwargs={"limit": 5}) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    positions = [r.position for r in _feed(engine)]
    assert len(positions) == 29 and positions == sorted(set(positions))


def test_rebuild_reproduces_the_state_hash(ledger: TrialLedger, engine: sa.Engine) -> None:
    write_story(ledger)
    Projector(ledger, engine).catch_up()
    before = state_hashes(engine)
    generation = rebuild(ledger, engine)
    after = state_hashes(engine)
    assert generation == 2
    for name in before:
        assert {k: v for k, v in after[name].items() if k != "generation"} == {
            k: v for k, v in before[name].items() if k != "generation"}
    post(ledger, "HCC-01-002", story.follow_up("2026-03-01"))
    assert Projector(ledger, engine).catch_up() == 1
    assert state_hashes(engine)["audit_feed"]["rows"] == 7
