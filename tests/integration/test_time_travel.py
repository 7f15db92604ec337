"""Reads as of a recorded time equal a from-scratch replay of the events recorded by then."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.participant import Participant
from services.api.casebook_view import casebook
from services.application import TrialLedger
from tests import story
from tests.integration.conftest import post


def _replay(ledger: TrialLedger, engine: sa.Engine, pid: str, as_of: str) -> Participant | None:
    """Independent of the repository: raw rows joined to the chain, decoded and folded."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.originator_id, s.originator_version, s.topic, s.state FROM stored_events s "
            "JOIN ledger_chain c ON c.stream_id = s.originator_id AND c.version = "
            "s.originator_version WHERE s.originator_id = :pid AND c.recorded_at <= :t "
            "ORDER BY s.originator_version"), {"pid": pid, "t": _bind(engine, as_of)}).all()
    from eventsourcing.persistence import StoredEvent

    state: Participant | None = None
    for row in rows:
        event = ledger.mapper.to_domain_event(StoredEvent(row[0], row[1], row[2], bytes(row[3])))
        assert isinstance(event, Participant.Event)
        state = event.mutate(state)
    return state


def _bind(engine: sa.Engine, as_of: str) -> object:
    from infra.ledger.chain import parse_recorded_at

    return parse_recorded_at(as_of) if engine.dialect.name == "postgresql" else as_of


def _history(ledger: TrialLedger) -> list[str]:
    pid = "HCC-01-001"
    steps = [story.enrollment(), story.tace("2026-01-14"), story.camrelizumab("2026-01-15"),
             story.adverse_event("AE1", "2026-01-20"), story.ae_update("AE1", "2026-01-28", 3),
             story.camrelizumab("2026-02-05", cycle=2), story.death("2026-04-01")]
    recorded = [post(ledger, pid, body) for body in steps]
    dose = recorded[2]
    recorded.append(post(ledger, pid, story.correction(dose.event_id, "2026-01-15",
                                                       story.camrelizumab("x")["data"],
                                                       new_date="2026-01-16")))
    recorded.append(post(ledger, pid, story.void(recorded[5].event_id, "2026-02-05")))
    # a dose recorded late but dated early
    recorded.append(post(ledger, pid, story.apatinib("2026-01-18", end_on="2026-01-30")))
    return [r.recorded_at for r in recorded]


def test_casebook_as_of_any_recorded_time_equals_a_replay(ledger: TrialLedger,
                                                          engine: sa.Engine) -> None:
    times = _history(ledger)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(min_value=0, max_value=len(times) - 1),
           st.sampled_from(["exact", "just_before"]))
    def check(index: int, where: str) -> None:
        as_of = times[index]
        if where == "just_before":
            as_of = as_of[:-2] + str(int(as_of[-2]) - 1 if as_of[-2] != "0" else 0) + "Z"
        replayed = _replay(ledger, engine, "HCC-01-001", as_of)
        if replayed is None:
            assert ledger.store.version_as_of("HCC-01-001", as_of) == 0
            return
        assert casebook(ledger.participant("HCC-01-001", as_of=as_of)) == casebook(replayed)

    check()


def test_a_late_dose_dated_early_appears_only_from_its_recorded_time(ledger: TrialLedger) -> None:
    times = _history(ledger)
    before_late, after_late = times[-2], times[-1]
    then = casebook(ledger.participant("HCC-01-001", as_of=before_late))
    now = casebook(ledger.participant("HCC-01-001", as_of=after_late))
    assert then["doses"]["apatinib"] == []
    assert [d["occurred_on"] for d in now["doses"]["apatinib"]] == ["2026-01-18"]


def test_a_correction_changes_the_casebook_only_from_its_recorded_time(ledger: TrialLedger
                                                                       ) -> None:
    times = _history(ledger)
    before_fix = casebook(ledger.participant("HCC-01-001", as_of=times[6]))
    after_fix = casebook(ledger.participant("HCC-01-001", as_of=times[7]))
    assert [d["occurred_on"] for d in before_fix["doses"]["camrelizumab"]] == [
        "2026-01-15", "2026-02-05"]
    assert [d["occurred_on"] for d in after_fix["doses"]["camrelizumab"]] == [
        "2026-01-16", "2026-02-05"]
    assert date.fromisoformat(after_fix["treatment_start_on"]) == date(2026, 1, 14)


def test_endpoints_as_of_a_recorded_time_equal_a_replay(ledger: TrialLedger,
                                                        engine: sa.Engine) -> None:
    """Study-wide: endpoints from the point-in-time participants equal those from a replay."""
    from datetime import UTC, datetime

    from domain.study_reports import study_endpoints
    from infra.ledger.chain import parse_recorded_at

    recorded = []
    for n, (pd_day, death) in enumerate([(None, None), ("2026-05-20", None),
                                         (None, "2026-04-10")]):
        pid = f"HCC-01-{n:03d}"
        recorded.append(post(ledger, pid, story.enrollment()))
        post(ledger, pid, story.scan("2026-01-11", baseline=True, recist_mm=[50, 30],
                                     mrecist_mm=[40, 25]))
        post(ledger, pid, story.tace("2026-01-12"))
        recorded.append(post(ledger, pid, story.scan("2026-02-23", baseline=False,
                                                     recist_mm=[40, 25], mrecist_mm=[10, 5])))
        recorded.append(post(ledger, pid, story.scan("2026-04-06", baseline=False,
                                                     recist_mm=[38, 24], mrecist_mm=[8, 4])))
        if pd_day:
            recorded.append(post(ledger, pid, story.scan(pd_day, baseline=False,
                                                         recist_mm=[60, 40],
                                                         mrecist_mm=[30, 25])))
        if death:
            recorded.append(post(ledger, pid, story.death(death)))
    cutoff = date(2026, 6, 30)
    for as_of in [r.recorded_at for r in recorded]:
        moment = parse_recorded_at(as_of)
        ids = [pid for pid, _ in ledger.participant_ids(as_of=as_of)]
        by_ledger = [ledger.participant(pid, as_of=as_of) for pid in ids]
        by_replay = [p for p in (_replay(ledger, engine, pid, as_of) for pid in ids) if p]
        for criterion in ("RECIST 1.1", "mRECIST"):
            assert study_endpoints(by_ledger, criterion, cutoff, moment) == study_endpoints(
                by_replay, criterion, cutoff, moment)
    final = study_endpoints(by_ledger, "mRECIST", cutoff, datetime.now(UTC))
    assert final["best_overall_response"]["PR"] + final["best_overall_response"]["CR"] >= 2
