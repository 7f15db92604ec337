"""Endpoints and safety from the outcome read model equal those from a full replay, at any
recorded time T and any clinical cutoff D, whether the projector has reached T or not."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.casebook import status
from domain.outcome_facts import outcome_facts, settled_summaries
from domain.participant import Participant
from domain.protocol import CRITERIA
from domain.study_reports import study_endpoints
from infra.ledger.chain import parse_recorded_at
from projections.outcome_documents import (
    adverse_events_document,
    criteria_document,
    settled_document,
    vital_document,
)
from projections.runner import Projector
from projections.state import rebuild, state_hashes
from projections.tables import CURRENT, participant_outcomes
from services.api.analysis_view import safety_body, study_safety
from services.api.scope import participant_summaries
from services.application import TrialLedger
from services.seed import seed_trial
from services.study_outcomes import endpoints, safety_report, study_outcomes
from tests import story
from tests.integration.conftest import post

MOMENT = datetime(2026, 11, 30, tzinfo=UTC)


def _replayed(ledger: TrialLedger, as_of: str | None) -> list[Any]:
    return [ledger.participant(pid, as_of=as_of)
            for pid, _ in ledger.participant_ids(as_of=as_of)]


def _times(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(t) if isinstance(t, str) else t.isoformat().replace("+00:00", "Z")
                for t in conn.execute(sa.text(
                    "SELECT recorded_at FROM ledger_chain ORDER BY position")).scalars()]


def _trial(ledger: TrialLedger) -> None:
    """A seeded trial, then a late correction and a void of scans, as a data manager would."""
    seed_trial(ledger, participants=8, seed=5)
    pid = "HCC-01-900"
    post(ledger, pid, story.enrollment())
    post(ledger, pid, story.scan("2026-01-11", baseline=True, recist_mm=[50, 30],
                                 mrecist_mm=[40, 25]))
    post(ledger, pid, story.tace("2026-01-12"))
    first = post(ledger, pid, story.scan("2026-02-23", baseline=False, recist_mm=[30, 20],
                                         mrecist_mm=[10, 5]))
    post(ledger, pid, story.scan("2026-04-06", baseline=False, recist_mm=[28, 18],
                                 mrecist_mm=[8, 4]))
    post(ledger, pid, story.correction(first.event_id, "2026-02-23",
                                       story.scan("x", baseline=False, recist_mm=[60, 40],
                                                  mrecist_mm=[30, 25])["data"]))
    post(ledger, pid, story.death("2026-05-02"))


def test_endpoints_and_safety_from_the_read_model_equal_a_replay(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    _trial(ledger)
    times = _times(engine)
    projector = Projector(ledger, engine)
    # Half the log projected: reads before the projector's position come from rows, later
    # ones fold the participants it has not reached.
    projector.catch_up(limit=37, until=len(times) // 2)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(times) - 1), st.integers(-40, 700), st.randoms())
    def check(index: int, days: int, rng: random.Random) -> None:
        as_of = rng.choice([times[index], None])
        cutoff = date(2026, 1, 1) + timedelta(days=days)
        read = study_outcomes(ledger, engine, None, as_of)
        replay = _replayed(ledger, as_of)
        assert [o.participant_id for o in read] == [p.id for p in replay]
        for criterion in CRITERIA:
            assert endpoints(read, criterion, cutoff, MOMENT) == study_endpoints(
                replay, criterion, cutoff, MOMENT)
        assert safety_body(safety_report(read, cutoff), cutoff, MOMENT) == study_safety(
            replay, cutoff, MOMENT)
        sites = ("S02",)
        scoped = study_outcomes(ledger, engine, sites, as_of)
        assert [o.participant_id for o in scoped] == [p.id for p in replay
                                                      if p.site_id in sites]

    check()
    projector.catch_up()
    check()


def test_rows_cover_each_participant_gap_free_and_hold_what_a_derivation_gives(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    _trial(ledger)
    Projector(ledger, engine).catch_up(limit=11)
    cols = participant_outcomes.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(
            cols.participant_id, cols.from_position, cols.to_position, cols.site_id,
            cols.settled, cols.vital, cols.criteria, cols.adverse_events, cols.version,
            cols.status).order_by(
            cols.participant_id, cols.from_position)).all()
        chain = {int(p): (s, int(v)) for p, s, v in conn.execute(sa.text(
            "SELECT position, stream_id, version FROM ledger_chain")).all()}
    by_participant: dict[str, list[Any]] = {}
    for row in rows:
        by_participant.setdefault(row.participant_id, []).append(row)
    assert set(by_participant) == {pid for pid, _ in ledger.participant_ids()}
    for pid, found in by_participant.items():
        # Gap-free: a row per event of the participant, each ending where the next begins,
        # the last current.
        assert [int(r.to_position) for r in found[:-1]] == [int(r.from_position)
                                                            for r in found[1:]]
        assert int(found[-1].to_position) == CURRENT
        assert [int(r.version) for r in found] == list(range(1, len(found) + 1))
        for row in found:
            stream, version = chain[int(row.from_position)]
            assert stream == pid and int(row.version) == version
            participant: Participant = ledger.repository.get(pid, version=version)
            facts = outcome_facts(participant)
            assert row.status == status(participant)
            assert (row.site_id, row.settled, row.vital, row.criteria, row.adverse_events) == (
                facts.site_id, settled_document(settled_summaries(facts)),
                vital_document(facts), criteria_document(facts.criteria),
                adverse_events_document(facts.adverse_events)), (pid, version)


def test_the_participant_list_as_of_any_time_equals_a_replay(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    _trial(ledger)
    times = _times(engine)
    Projector(ledger, engine).catch_up(limit=23, until=2 * len(times) // 3)
    for as_of in times[::7] + [times[-1]]:
        for sites in (None, ("S01",), ("S02", "S03")):
            expected = [{"participant_id": p.id, "site_id": p.site_id, "status": status(p),
                         "version": p.version} for p in _replayed(ledger, as_of)
                        if sites is None or p.site_id in sites]
            assert participant_summaries(ledger, engine, sites, as_of) == expected, as_of


def test_a_rebuild_gives_the_same_outcome_rows(ledger: TrialLedger, engine: sa.Engine) -> None:
    _trial(ledger)
    Projector(ledger, engine).catch_up(limit=5)
    before = state_hashes(engine)["participant_outcomes"]
    rebuild(ledger, engine)
    after = state_hashes(engine)["participant_outcomes"]
    assert before["rows"] > 0
    assert (before["rows"], before["state_hash"]) == (after["rows"], after["state_hash"])


def test_a_read_as_of_a_time_writes_nothing(ledger: TrialLedger, engine: sa.Engine) -> None:
    _trial(ledger)
    Projector(ledger, engine).catch_up()
    before = state_hashes(engine)
    times = _times(engine)
    for as_of in (times[3], times[-1], None):
        study_outcomes(ledger, engine, None, as_of)
    assert state_hashes(engine) == before
    assert parse_recorded_at(times[-1]) <= datetime.now(UTC)


def test_upgrading_a_store_that_holds_events_re_projects_every_read_model(
        ledger: TrialLedger, engine: sa.Engine, settings: Any) -> None:
    """Revision 0006 adds the outcome read model to a store whose other read models are
    current: it empties them all and the projector replays the log into all of them
    together, to the same rows as before."""
    from alembic import command

    from infra.migrate import alembic_config, upgrade

    _trial(ledger)
    Projector(ledger, engine).catch_up()
    before = state_hashes(engine)
    url = settings.migration_url()
    command.downgrade(alembic_config(url), "0005")
    upgrade(url)
    reset = state_hashes(engine)
    assert {name: (s["position"], s["rows"]) for name, s in reset.items()} == {
        name: (0, 0) for name in before}
    read = study_outcomes(ledger, engine, None, None)  # exact meanwhile: folded from the log
    assert [o.participant_id for o in read] == [pid for pid, _ in ledger.participant_ids()]
    Projector(ledger, engine).catch_up()
    assert state_hashes(engine) == before
