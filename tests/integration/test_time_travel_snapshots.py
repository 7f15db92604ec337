"""Point-in-time reads through snapshots equal a from-scratch replay of the events recorded by
then: the participant, the casebook as the route computes it (stored outcome views included),
and the casebook at any clinical cutoff."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.casebook_view import casebook
from services.application import TrialLedger
from services.participant_snapshots import AGGREGATE_EVERY
from tests.integration.test_participant_snapshots import PID, eventful
from tests.integration.test_time_travel import _replay


def test_a_snapshot_read_at_any_recorded_time_equals_a_replay(ledger: TrialLedger,
                                                              engine: sa.Engine) -> None:
    eventful(ledger)
    times = [row.recorded_at for row in ledger.store.chain_for_stream(PID)]
    assert len(times) > 2 * AGGREGATE_EVERY
    started: set[int] = set()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(min_value=0, max_value=len(times) - 1),
           st.sampled_from(["exact", "just_before"]),
           st.one_of(st.none(), st.dates(min_value=date(2026, 1, 1),
                                         max_value=date(2026, 7, 1))))
    def check(index: int, where: str, cutoff: date | None) -> None:
        as_of = times[index]
        if where == "just_before":
            as_of = as_of[:-2] + str(int(as_of[-2]) - 1 if as_of[-2] != "0" else 0) + "Z"
        replayed = _replay(ledger, engine, PID, as_of)
        if replayed is None:
            assert ledger.store.version_as_of(PID, as_of) == 0
            return
        loaded = ledger.point_in_time(PID, as_of=as_of)
        started.add(loaded.snapshot_version)
        assert loaded.aggregate == replayed
        assert ledger.participant(PID, as_of=as_of) == replayed
        assert casebook(loaded.aggregate, cached=loaded.outcome) == casebook(replayed)
        assert (casebook(loaded.aggregate, cutoff=cutoff, cached=loaded.outcome)
                == casebook(replayed, cutoff=cutoff))

    check()
    assert started - {0}, "no read started from a snapshot"


def test_the_casebook_at_a_cutoff_is_the_casebook_of_the_entries_dated_by_then(
        ledger: TrialLedger) -> None:
    """Entry lists at D are the full lists cut at D; a cutoff past every entry changes only
    `cutoff`-free fields not at all."""
    eventful(ledger)
    now = ledger.point_in_time(PID)
    everything = casebook(now.aggregate, cached=now.outcome)
    assert casebook(now.aggregate, cutoff=date(2030, 1, 1)) == everything
    day = date(2026, 2, 26)
    at = casebook(now.aggregate, cutoff=day)
    for name in ("dose_modifications", "tace_sessions", "tumor_assessments",
                 "anticancer_therapies"):
        assert at[name] == [e for e in everything[name]
                            if date.fromisoformat(e["occurred_on"]) <= day]
    for drug, doses in everything["doses"].items():
        assert at["doses"][drug] == [d for d in doses
                                     if date.fromisoformat(d["occurred_on"]) <= day]
    assert at["died_on"] is None and everything["died_on"] == "2026-06-01"
    assert at["last_known_alive_on"] <= day.isoformat()
    assert casebook(now.aggregate, cutoff=day - timedelta(days=400))["tumor_assessments"] == []
