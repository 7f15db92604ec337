"""Waterfall and swimmer data from the outcome read model, on both stores, for a small trial
whose target sums are known by hand; checked against the casebook and the endpoints report.

Baseline scans 2026-01-12, TACE 2026-01-14 (day 0); follow-ups at day 42 (2026-02-25), 84
(2026-04-08) and 168 (2026-07-01). RECIST 1.1 sums (mm):

| id | baseline | follow-ups | best change | BOR | other |
|---|---|---|---|---|---|
| HCC-01-001 | 30+50 = 80 | 50, 46 (corrected to 58) | -42.5% (-37.5%) | PR (SD) | |
| HCC-01-002 | 40 | 36, 60 (PD), 20 not counted | -10% | SD | |
| HCC-01-003 | 60 | 80 (PD) | +33.3% | PD | drugs stopped 02-12, 03-01; died 04-01 |
| HCC-01-004 | 50 | none | not plotted | NE | contact 03-01, withdrew 03-10 |
| HCC-01-005 | - | - | not treated | | |
| HCC-01-006 | no targets | | no baseline sum | | |
| HCC-01-007 | no scan | | no baseline sum | | |
| HCC-01-009 | 50 | 40, 20 after therapy | -20% | SD | off-protocol therapy 03-15 |
| HCC-01-010 | - | - | not treated | | enrolled 03-20 |
| HCC-02-001 | 50 (site S02) | 30, 30 | -40% | PR | |
"""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from domain.account import Account
from domain.casebook import status
from domain.outcome_facts import outcome_facts
from domain.participant_outcome import offprotocol_therapy_on, participant_outcome
from domain.protocol import CRITERIA, MRECIST, Criterion
from domain.protocol import RECIST_11 as RECIST
from domain.response.best import reads_counted
from domain.response.measures import exact_mm, measure_targets
from infra.db import DatabaseURL, create_engine
from infra.logging import configure_logging
from infra.settings import Settings
from projections.outcome_documents import (
    adverse_events_document,
    criteria_document,
    facts_from_documents,
    vital_document,
)
from services.app import create_app
from services.application import TrialLedger
from services.casebook_outcomes import EntryIndex
from services.plot_data import (
    NO_BASELINE,
    NO_MEASURED_FOLLOW_UP,
    NOT_STORED,
    NOT_TREATED,
    SwimmerLane,
    SwimmerMark,
    swimmer,
    waterfall,
    with_plot_facts,
)
from services.seed import fold_plan, plan_trial
from services.study_outcomes import ParticipantOutcomes, study_outcomes
from tests import story
from tests.api.conftest import PASSWORD_HASH, USERS, Api
from tests.integration.conftest import post

WEEK_6, WEEK_12, WEEK_24 = "2026-02-25", "2026-04-08", "2026-07-01"
CUTOFF = date(2026, 11, 1)
BETWEEN = date(2026, 3, 5)
"""After the day-42 reads, P3's end of treatment and P4's contact; before the day-84 reads, P3's
death and P4's withdrawal."""
BEFORE = date(2026, 2, 20)
"""Before any follow-up read."""


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """tests/api/conftest.py's app and users (that fixture is the API suite's own)."""
    log = io.StringIO()
    configure_logging("INFO", stream=log)
    app = create_app(settings, configure_logs=False)
    for username, (role, sites) in USERS.items():
        app.state.ledger.create_account(Account.create(
            username=username, full_name=username.title(), role=role, sites=sites,
            password_hash=PASSWORD_HASH, event_id=str(uuid.uuid4()), actor="setup",
            actor_role="system"))
    with TestClient(app) as client:
        yield Api(client, log)


def ok(api: Api, pid: str, body: dict[str, Any], user: str = "coord1") -> dict[str, Any]:
    response = api.post(pid, body, user=user)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def start(api: Api, pid: str, recist: list[float], mrecist: list[float], user: str = "coord1",
          site: str = "S01") -> None:
    ok(api, pid, story.enrollment(site_id=site), user)
    ok(api, pid, story.scan("2026-01-12", baseline=True, recist_mm=recist, mrecist_mm=mrecist),
       user)
    ok(api, pid, story.tace("2026-01-14"), user)


def follow(api: Api, pid: str, on: str, recist: list[float], mrecist: list[float],
           user: str = "coord1") -> dict[str, Any]:
    return ok(api, pid, story.scan(on, baseline=False, recist_mm=recist, mrecist_mm=mrecist),
              user)


def stop(drug: str, on: str) -> dict[str, Any]:
    return {"type": "DoseModified", "occurred_on": on,
            "data": {"drug": drug, "action": "discontinued", "reason": "toxicity"}}


def trial(api: Api) -> str:
    """The trial of the module docstring; returns the recorded time just before HCC-01-001's
    day-84 scan is corrected."""
    start(api, "HCC-01-001", [30, 50], [40, 25])
    follow(api, "HCC-01-001", WEEK_6, [20, 30], [10, 5])
    week_12 = follow(api, "HCC-01-001", WEEK_12, [18, 28], [0, 0])

    start(api, "HCC-01-002", [40], [40])
    follow(api, "HCC-01-002", WEEK_6, [36], [36])
    follow(api, "HCC-01-002", WEEK_12, [60], [60])
    follow(api, "HCC-01-002", WEEK_24, [20], [20])

    start(api, "HCC-01-003", [60], [60])
    ok(api, "HCC-01-003", story.camrelizumab("2026-01-15"))
    ok(api, "HCC-01-003", story.apatinib("2026-01-15", "2026-02-28"))
    ok(api, "HCC-01-003", stop("camrelizumab", "2026-02-12"))
    follow(api, "HCC-01-003", WEEK_6, [80], [80])
    ok(api, "HCC-01-003", stop("apatinib", "2026-03-01"))
    ok(api, "HCC-01-003", story.death("2026-04-01"))

    start(api, "HCC-01-004", [50], [50])
    ok(api, "HCC-01-004", story.follow_up("2026-03-01"))
    ok(api, "HCC-01-004", {"type": "ParticipantWithdrew", "occurred_on": "2026-03-10",
                           "data": {"reason": "moved away", "follow_up_allowed": False}})

    ok(api, "HCC-01-005", story.enrollment())
    start(api, "HCC-01-006", [], [])
    ok(api, "HCC-01-007", story.enrollment())
    ok(api, "HCC-01-007", story.tace("2026-01-14"))

    start(api, "HCC-01-009", [50], [50])
    follow(api, "HCC-01-009", WEEK_6, [40], [40])
    ok(api, "HCC-01-009", {"type": "AnticancerTherapyStarted", "occurred_on": "2026-03-15",
                           "data": {"therapy": "sorafenib", "category": "systemic"}})
    follow(api, "HCC-01-009", WEEK_12, [20], [20])

    ok(api, "HCC-01-010", story.enrollment(on="2026-03-20", consented_on="2026-03-16"))

    start(api, "HCC-02-001", [50], [50], user="coord2", site="S02")
    follow(api, "HCC-02-001", WEEK_6, [30], [30], user="coord2")
    last = follow(api, "HCC-02-001", WEEK_12, [30], [30], user="coord2")

    corrected = story.scan("x", baseline=False, recist_mm=[24, 34], mrecist_mm=[0, 0])["data"]
    ok(api, "HCC-01-001", story.correction(week_12["event_id"], WEEK_12, corrected),
       user="dm")
    return str(last["recorded_at"])


def outcomes(api: Api, sites: tuple[str, ...] | None = None, as_of: str | None = None
             ) -> list[ParticipantOutcomes]:
    """What `visible_outcomes` gives a caller reading `sites`."""
    state = api.client.app.state  # type: ignore[attr-defined]
    return study_outcomes(state.ledger, state.engine, sites, as_of)


def project(api: Api) -> None:
    api.client.app.state.projector.catch_up()  # type: ignore[attr-defined]


def bars_of(participants: list[ParticipantOutcomes], criterion: Criterion, cutoff: date
            ) -> tuple[list[tuple[str, float, str]], dict[str, int]]:
    bars, left_out = waterfall(participants, criterion, cutoff)
    return [(b.participant_id, round(b.best_change_pct, 9), b.bor) for b in bars], left_out


def casebook_bor(api: Api, pid: str, criterion: Criterion, cutoff: date, as_of: str | None = None
                 ) -> str:
    params = {"cutoff": cutoff.isoformat()} | ({"as_of": as_of} if as_of else {})
    response = api.get(f"/api/v1/participants/{pid}", user="dm", **params)
    assert response.status_code == 200, response.text
    return str(response.json()["best_overall_response"][criterion]["confirmed"])


def assert_consistent_with_the_api(api: Api, participants: list[ParticipantOutcomes],
                                   criterion: Criterion, cutoff: date, as_of: str | None = None
                                   ) -> None:
    """Each bar's BOR is the casebook's at (cutoff, as_of); bars and the left-out counts are
    the report's enrolled, and the bars' BORs are the report's counts less those of the
    evaluable not drawn."""
    bars, left_out = waterfall(participants, criterion, cutoff)
    for bar in bars:
        assert bar.bor == casebook_bor(api, bar.participant_id, criterion, cutoff, as_of)
    params = {"criteria": criterion, "cutoff": cutoff.isoformat()} | (
        {"as_of": as_of} if as_of else {})
    report = api.get("/api/v1/endpoints", user="dm", **params).json()
    assert len(bars) + sum(left_out.values()) == report["population"]["enrolled"]
    # Every bar is of an evaluable participant; the evaluable without one had no measured read.
    ids = {bar.participant_id for bar in bars}
    undrawn = [s for p in participants if p.enrolled_on <= cutoff and p.participant_id not in ids
               and (s := p.summary(criterion, cutoff)).evaluable]
    assert len(undrawn) == left_out.get(NO_MEASURED_FOLLOW_UP, 0)
    assert Counter(bar.bor for bar in bars) + Counter(
        s.best_overall_response for s in undrawn) == Counter(report["best_overall_response"])


def test_waterfall_bars_are_the_hand_computed_changes(api: Api) -> None:
    before_correction = trial(api)
    for projected in (False, True):
        if projected:
            project(api)
        everyone = outcomes(api)
        assert bars_of(everyone, RECIST, CUTOFF) == ([
            ("HCC-01-003", round(20 / 60 * 100, 9), "PD"),
            ("HCC-01-002", -10.0, "SD"),  # the -50% read after the PD does not count
            ("HCC-01-009", -20.0, "SD"),  # the -60% read after the other therapy does not
            ("HCC-01-001", -37.5, "SD"),  # corrected day 84: 58 mm, the PR unconfirmed
            ("HCC-02-001", -40.0, "PR"),
        ], {NOT_TREATED: 2, NO_BASELINE: 2, NO_MEASURED_FOLLOW_UP: 1})
        assert bars_of(everyone, MRECIST, CUTOFF)[0][-2:] == [
            ("HCC-02-001", -40.0, "PR"), ("HCC-01-001", -100.0, "PR")]
        # A caller of site S01 only: HCC-02-001 is neither drawn nor counted.
        bars, left_out = bars_of(outcomes(api, ("S01",)), RECIST, CUTOFF)
        assert [b[0] for b in bars] == ["HCC-01-003", "HCC-01-002", "HCC-01-009", "HCC-01-001"]
        assert sum(left_out.values()) == 5

        # As of just before the correction: day 84 was 46 mm, a confirmed PR.
        past = outcomes(api, as_of=before_correction)
        assert ("HCC-01-001", -42.5, "PR") in bars_of(past, RECIST, CUTOFF)[0]

        # At a cutoff before the day-84 reads: the day-42 PR is not yet confirmed, HCC-01-010
        # is not yet enrolled.
        assert bars_of(everyone, RECIST, BETWEEN) == ([
            ("HCC-01-003", round(20 / 60 * 100, 9), "PD"),
            ("HCC-01-002", -10.0, "SD"),
            ("HCC-01-009", -20.0, "SD"),
            ("HCC-01-001", -37.5, "SD"),
            ("HCC-02-001", -40.0, "SD"),
        ], {NOT_TREATED: 1, NO_BASELINE: 2, NO_MEASURED_FOLLOW_UP: 1})

        # Before any follow-up: no bar at all.
        assert bars_of(everyone, RECIST, BEFORE) == (
            [], {NOT_TREATED: 1, NO_BASELINE: 2, NO_MEASURED_FOLLOW_UP: 6})

    assert_consistent_with_the_api(api, outcomes(api), RECIST, CUTOFF)
    assert_consistent_with_the_api(api, outcomes(api), MRECIST, CUTOFF)
    assert_consistent_with_the_api(api, outcomes(api), RECIST, BETWEEN)
    assert_consistent_with_the_api(api, outcomes(api, as_of=before_correction), RECIST, CUTOFF,
                                   before_correction)


def lane(pid: str, end_day: int, ongoing: bool, *marks: tuple[int, str]) -> SwimmerLane:
    return SwimmerLane(pid, end_day, ongoing, tuple(SwimmerMark(d, k) for d, k in marks))


def test_swimmer_lanes_end_at_the_os_time_with_responses_death_and_end_of_treatment(
        api: Api) -> None:
    trial(api)
    project(api)
    everyone = outcomes(api)
    assert swimmer(everyone, RECIST, CUTOFF) == [
        lane("HCC-01-002", 168, True, (42, "SD"), (84, "PD")),
        lane("HCC-01-001", 84, True, (42, "PR"), (84, "SD")),
        lane("HCC-01-009", 84, False, (42, "SD"), (60, "off-treatment")),
        lane("HCC-02-001", 84, True, (42, "PR")),
        lane("HCC-01-003", 77, False, (42, "PD"), (46, "off-treatment"), (77, "death")),
        lane("HCC-01-004", 55, False, (55, "off-treatment")),
        lane("HCC-01-006", 0, True),
        lane("HCC-01-007", 0, True),
    ]
    # Before the death, the withdrawal and the other therapy: every lane with an entry after
    # the cutoff ends at it (day 50).
    assert swimmer(everyone, RECIST, BETWEEN) == [
        lane("HCC-01-001", 50, True, (42, "PR")),
        lane("HCC-01-002", 50, True, (42, "SD")),
        lane("HCC-01-003", 50, False, (42, "PD"), (46, "off-treatment")),
        lane("HCC-01-004", 50, True),
        lane("HCC-01-009", 50, True, (42, "SD")),
        lane("HCC-02-001", 50, True, (42, "PR")),
        lane("HCC-01-006", 0, True),
        lane("HCC-01-007", 0, True),
    ]
    assert swimmer(everyone, RECIST, BEFORE)[0] == lane("HCC-01-001", 37, True)
    # Every lane ends where the casebook's OS at that cutoff ends.
    for cutoff in (CUTOFF, BETWEEN):
        for found in swimmer(everyone, MRECIST, cutoff):
            book = api.get(f"/api/v1/participants/{found.participant_id}", user="dm",
                           cutoff=cutoff.isoformat()).json()
            assert book["time_to_event"]["os"]["days"] - 1 == found.end_day


def legacy(vital: str, criteria: str) -> tuple[str, str]:
    """The `vital` and `criteria` documents as the projector wrote them before they held the
    dates treatment ended and the target sums."""
    return (json.dumps(json.loads(vital)[:6]),
            json.dumps({c: [evaluable, [[on, known] for on, known, _ in followups]]
                        for c, (evaluable, followups, _) in json.loads(criteria).items()}))


def test_rows_stored_before_the_sums_still_load_and_are_folded_for_the_plots(
        api: Api, settings: Settings) -> None:
    before_correction = trial(api)
    project(api)
    state = api.client.app.state  # type: ignore[attr-defined]
    expected = {(c, day, as_of): (waterfall(outcomes(api, as_of=as_of), c, day),
                                  swimmer(outcomes(api, as_of=as_of), c, day))
                for c in CRITERIA for day in (CUTOFF, BETWEEN)
                for as_of in (None, before_correction)}
    owner = create_engine(DatabaseURL.parse(settings.migration_url()))
    try:
        with owner.begin() as conn:
            rows = conn.execute(sa.text(
                "SELECT generation, participant_id, from_position, vital, criteria "
                "FROM participant_outcomes")).all()
            assert rows
            for generation, pid, position, vital, criteria in rows:
                old_vital, old_criteria = legacy(vital, criteria)
                conn.execute(sa.text(
                    "UPDATE participant_outcomes SET vital = :vital, criteria = :criteria "
                    "WHERE generation = :generation AND participant_id = :pid "
                    "AND from_position = :position"),
                    {"vital": old_vital, "criteria": old_criteria, "generation": generation,
                     "pid": pid, "position": position})
        for (criterion, day, as_of), (bars, lanes) in expected.items():
            # A fresh engine: nothing decoded before the rows were rewritten.
            stored = study_outcomes(state.ledger, owner, None, as_of)
            assert stored and all(p.facts.legacy for p in stored)
            # The endpoints read from legacy rows as before.
            assert [p.summary(criterion, day) for p in stored] == [
                p.summary(criterion, day) for p in outcomes(api, as_of=as_of)]
            enrolled = sum(p.enrolled_on <= day for p in stored)
            assert waterfall(stored, criterion, day) == ([], {NOT_STORED: enrolled})
            assert swimmer(stored, criterion, day) == []
            refolded = with_plot_facts(state.ledger, stored, as_of)
            assert not any(p.facts.legacy for p in refolded)
            assert (waterfall(refolded, criterion, day), swimmer(refolded, criterion, day)) == (
                bars, lanes)
    finally:
        owner.dispose()


def test_plot_facts_equal_a_derivation_from_the_entries_at_any_cutoff() -> None:
    """Over a seeded trial (corrections, voids, withdrawals, discontinuations, off-protocol
    therapy, back-dated PD): the stored facts' bars and lanes are those derived from the
    participant's entries at the cutoff by `participant_outcome` and the casebook's status."""
    checked = Counter[str]()
    for participant in fold_plan(plan_trial(participants=60, seed=2026)):
        facts = outcome_facts(participant)
        stored = facts_from_documents(facts.participant_id, facts.site_id, facts.enrolled_on,
                                      facts.settled_from, vital_document(facts),
                                      criteria_document(facts.criteria),
                                      adverse_events_document(facts.adverse_events))
        assert stored == facts
        days = sorted({e.occurred_on for e in participant.effective_entries()})
        # One participant object for every cutoff, as the read model hands out one per row:
        # what is made at one cutoff must not be taken for another (past the last entry, it
        # is the same).
        one = [ParticipantOutcomes.of(stored)]
        later = [facts.settled_from, facts.settled_from + timedelta(days=400)]
        for cutoff in days[::3] + [days[-1]] + later + days[1::3]:
            outcome = participant_outcome(participant, cutoff)
            for criterion in CRITERIA:
                bars, left_out = waterfall(one, criterion, cutoff)
                expected = derived_change(participant, criterion, cutoff)
                if isinstance(expected, str):
                    assert (bars, left_out) == ([], {expected: 1}), (participant.id, cutoff)
                else:
                    [bar] = bars
                    assert bar.best_change_pct == pytest.approx(expected, abs=1e-9)
                    assert bar.bor == outcome.summary(criterion).best_overall_response
                lanes = swimmer(one, criterion, cutoff)
                if outcome.treatment_start_on is None:
                    assert lanes == []
                    continue
                assert outcome.os is not None
                [found] = lanes
                assert found.end_day == outcome.os.days - 1
                at_cutoff = status(EntryIndex(participant, until=cutoff))
                assert found.ongoing == (at_cutoff == "on_treatment"), (participant.id, cutoff)
                checked[at_cutoff] += 1
                checked["bars"] += len(bars)
    # The seed covers every status and many bars.
    assert set(checked) >= {"on_treatment", "follow_up", "withdrawn", "dead", "bars"}


def derived_change(participant: Any, criterion: Criterion, cutoff: date) -> float | str:
    """The best change from baseline from the full derivation at the cutoff (rules.md 5, 10)."""
    outcome = participant_outcome(participant, cutoff)
    start = outcome.treatment_start_on
    if start is None:
        return NOT_TREATED
    found = outcome.by_criterion[criterion]
    if found.baseline is None or not found.baseline.read.targets:
        return NO_BASELINE
    baseline = measure_targets(found.baseline.read, found.baseline.read).total_mm
    assert baseline is not None
    counted = reads_counted(found.timepoints, start, offprotocol_therapy_on(participant, cutoff))
    sums = [exact_mm(tp.sum_mm) for tp in counted if tp.sum_mm is not None]
    if not sums:
        return NO_MEASURED_FOLLOW_UP
    return float((min(sums) - baseline) / baseline * 100)


def test_treatment_ends_when_the_last_study_drug_stops_and_never_before_day_0(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    post(ledger, "HCC-01-001", story.enrollment())
    post(ledger, "HCC-01-001", story.scan("2026-01-12", baseline=True, recist_mm=[50],
                                          mrecist_mm=[50]))
    post(ledger, "HCC-01-001", story.camrelizumab("2026-01-14"))
    post(ledger, "HCC-01-001", story.apatinib("2026-01-14", "2026-02-20"))
    post(ledger, "HCC-01-001", stop("camrelizumab", "2026-02-01"))
    post(ledger, "HCC-01-001", stop("apatinib", "2026-02-21"))
    post(ledger, "HCC-01-002", story.enrollment())
    post(ledger, "HCC-01-002", {"type": "AnticancerTherapyStarted", "occurred_on": "2026-01-12",
                                "data": {"therapy": "radiotherapy", "category": "radiotherapy"}})
    post(ledger, "HCC-01-002", story.tace("2026-01-14"))
    participants = study_outcomes(ledger, engine, None, None)
    # One drug stopped: still on treatment (the lane runs to the cutoff: entries follow it).
    assert swimmer(participants, RECIST, date(2026, 2, 10)) == [
        lane("HCC-01-001", 27, True), lane("HCC-01-002", 0, False, (0, "off-treatment"))]
    assert swimmer(participants, RECIST, CUTOFF)[0] == lane("HCC-01-001", 38, False,
                                                            (38, "off-treatment"))
