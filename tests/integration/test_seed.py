"""The synthetic trial: deterministic, recorded through every rule, and clinically plausible.

Store tests run on SQLite and PostgreSQL through the `ledger` fixture; the plan tests need
no store (the plan is what `seed_trial` records, as `test_the_store_holds_the_plan` shows).
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from domain.outcomes import participant_outcome, study_endpoints
from domain.protocol import CRITERIA, MRECIST, RCCEP_TERM, RECIST_11
from domain.response import Read, baseline_problems, followup_problems
from infra.db import create_engine
from infra.ledger.verify import verify_ledger
from infra.security.passwords import verify_password
from infra.settings import Settings
from services import demo
from services.application import TrialLedger
from services.seed import (
    DATA_CUTOFF,
    fold_plan,
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    POST_EMBOLISATION_AES,
    SYSTEMIC_AES,
    TRIAL_START,
    ParticipantPlan,
    PlannedEvent,
    StoreNotEmpty,
    TrialPlan,
    plan_trial,
    seed_trial,
)
from tests.conftest import _admin, _with_database

Signature = tuple[str, int, str, str, str, str | None, str]


def stream_signatures(ledger: TrialLedger) -> tuple[list[Signature], list[tuple[str, int]]]:
    """Every participant event as (participant, version, type, occurred_on, data, reason, by),
    with the event ids a correction or void names replaced by that event's version; and the
    chain order of (participant, version). Store-assigned ids and times are left out."""
    rows: list[Signature] = []
    chain_order: list[tuple[int, str, int]] = []
    for participant_id, _ in sorted(ledger.participant_ids()):
        events = ledger.participant_events(participant_id)
        version_of = {event.event_id: event.originator_version for event, _ in events}
        for event, chain in events:
            data = dict(event.data)
            for key in ("corrects", "voids"):
                if key in data:
                    data[key] = f"version {version_of[data[key]]}"
            rows.append((participant_id, event.originator_version, type(event).__name__,
                         event.occurred_on, json.dumps(data, sort_keys=True), event.reason,
                         event.actor))
            chain_order.append((chain.position, participant_id, event.originator_version))
    return rows, [(pid, version) for _, pid, version in sorted(chain_order)]


@pytest.fixture
def another_ledger(request: pytest.FixtureRequest, store_kind: str, tmp_path: Path
                   ) -> Iterator[Callable[[], TrialLedger]]:
    """Makes further fresh stores of the same kind as `ledger`'s."""
    made: list[tuple[TrialLedger, Any]] = []
    databases: list[str] = []

    def make() -> TrialLedger:
        if store_kind == "sqlite":
            path = tmp_path / f"another-{len(made)}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite:///{path}"
        else:
            server = request.getfixturevalue("postgres_server_url")
            template = request.getfixturevalue("postgres_template")
            name = f"tl_{uuid.uuid4().hex[:12]}"
            with _admin(server) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            databases.append(name)
            url = _with_database(server, name)
        settings = Settings(database_url=url, jwt_secret=secrets.token_urlsafe(40),
                            secrets_dir=tmp_path / "secrets")
        engine = create_engine(settings.database)
        made.append((TrialLedger(settings, engine), engine))
        return made[-1][0]

    yield make
    for app, engine in made:
        app.close()
        engine.dispose()
    if databases:
        with _admin(request.getfixturevalue("postgres_server_url")) as conn:
            for name in databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- recorded through the application layer, on both stores ------------------------------------


def test_the_same_seed_gives_the_same_trial_on_a_fresh_store(
        ledger: TrialLedger, another_ledger: Callable[[], TrialLedger]) -> None:
    first = seed_trial(ledger, participants=8, seed=7)
    second_ledger = another_ledger()
    second = seed_trial(second_ledger, participants=8, seed=7)
    assert first == second
    rows, order = stream_signatures(ledger)
    assert (rows, order) == stream_signatures(second_ledger)
    assert len(rows) == first.events
    assert any(row[2] == "EntryCorrected" for row in rows)
    assert any(row[2] == "EntryVoided" for row in rows)


def test_twenty_participants_are_seeded_quickly_and_the_ledger_verifies(
        ledger: TrialLedger) -> None:
    started = time.perf_counter()
    plan_trial(participants=20, seed=11)
    planning = time.perf_counter() - started
    started = time.perf_counter()
    summary = seed_trial(ledger, participants=20, seed=11)
    elapsed = time.perf_counter() - started
    report = verify_ledger(ledger.store)
    assert report.ok, report.as_dict()
    assert report.events == summary.events + len(DEMO_ACCOUNTS)
    ids = sorted(pid for pid, _ in ledger.participant_ids())
    assert len(ids) == summary.participants == 20
    for participant_id in ids:
        first, _ = ledger.participant_events(participant_id)[0]
        assert type(first).__name__ == "ParticipantEnrolled"
    # Planning is pure and quick; recording ~1,100 events is the ledger's per-event cost (a
    # copy of the history and the rules per entry, one transaction each), kept loosely bounded.
    assert planning < 2, f"planning 20 participants took {planning:.1f} s"
    assert elapsed < 60, f"seeding 20 participants took {elapsed:.1f} s"


def test_the_store_holds_the_plan_and_mrecist_responds_more_than_recist(
        ledger: TrialLedger) -> None:
    summary = seed_trial(ledger, participants=12, seed=5)
    plan = plan_trial(participants=12, seed=5)
    for participant in plan.participants:
        stored = ledger.participant(participant.participant_id).effective_entries()
        planned = participant.effective_events()
        assert [(e.type, e.occurred_on, e.data) for e in stored] == \
               [(e.type, e.occurred_on, e.data) for e in planned]
    assert summary.events == sum(len(p.events) for p in plan.participants)
    responders = {criterion: 0 for criterion in CRITERIA}
    for participant_id, _ in ledger.participant_ids():
        outcome = participant_outcome(ledger.participant(participant_id), DATA_CUTOFF)
        for criterion in CRITERIA:
            best = outcome.by_criterion[criterion].best
            responders[criterion] += best is not None and best.confirmed.value in ("CR", "PR")
    assert responders[MRECIST] >= responders[RECIST_11]
    assert responders[MRECIST] > 0


def test_seeding_creates_the_demo_accounts_and_refuses_a_store_with_participants(
        ledger: TrialLedger) -> None:
    summary = seed_trial(ledger, participants=2, seed=3)
    assert set(summary.accounts_created) == {a.username for a in DEMO_ACCOUNTS}
    for expected in DEMO_ACCOUNTS:
        account = ledger.account(expected.username)
        assert account is not None
        view = account.public_view()
        assert (view["role"], tuple(view["sites"])) == (expected.role, expected.sites)
        assert verify_password(account.password_hash, DEMO_PASSWORD)  # type: ignore[attr-defined]
    with pytest.raises(StoreNotEmpty, match="already has 2 participants"):
        seed_trial(ledger, participants=2, seed=3)


def test_ensure_demo_seeds_an_empty_store_once(settings: Settings,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "DEMO_PARTICIPANTS", 3)
    console = Console(record=True, width=120)
    first = demo.ensure_demo(settings, console)
    assert first is not None and first.participants == 3 and first.seed == demo.DEMO_SEED
    assert demo.ensure_demo(settings, console) is None
    printed = console.export_text()
    assert DEMO_PASSWORD in printed and "already has 3 participants" in printed
    assert all(account.username in printed for account in DEMO_ACCOUNTS)


# -- the plan itself (no store) ------------------------------------------------------------------


def test_the_plan_is_a_pure_function_of_participants_and_seed() -> None:
    def shape(plan: TrialPlan) -> list[tuple[Any, ...]]:
        return [(e.participant_id, e.seq, e.type, e.occurred_on, json.dumps(e.data),
                 e.reason, e.entered_on, e.actor, e.refers_to) for e in plan.in_entry_order()]

    assert shape(plan_trial(participants=15, seed=1)) == shape(plan_trial(participants=15, seed=1))
    assert shape(plan_trial(participants=15, seed=1)) != shape(plan_trial(participants=15, seed=2))


def _effective(plan: TrialPlan) -> Iterator[tuple[ParticipantPlan, list[PlannedEvent]]]:
    for participant in plan.participants:
        yield participant, participant.effective_events()


def _treatment_start(events: list[PlannedEvent]) -> date:
    return min(e.occurred_on for e in events if e.type in ("DoseAdministered", "TACEPerformed"))


def test_the_plan_follows_the_protocol_schedule() -> None:
    plan = plan_trial(participants=100, seed=2026)
    allowed_terms = {kind.term for kind in (*SYSTEMIC_AES, *POST_EMBOLISATION_AES)}
    allowed_terms.add("Upper gastrointestinal hemorrhage")
    for participant, events in _effective(plan):
        assert events[0].type == "ParticipantEnrolled"
        enrolled_on = events[0].occurred_on
        assert TRIAL_START <= enrolled_on
        died = [e.occurred_on for e in events if e.type == "ParticipantDied"]
        last = died[0] if died else DATA_CUTOFF
        for event in participant.events:
            end_on = event.data.get("end_on")
            assert enrolled_on <= event.occurred_on <= last
            assert end_on is None or date.fromisoformat(end_on) <= last
            assert event.occurred_on <= event.entered_on
        start = _treatment_start(events)
        taces = [e.occurred_on for e in events if e.type == "TACEPerformed"]
        assert taces[0] == start and 1 <= len(taces) <= 4
        apatinib = sorted(e.occurred_on for e in events if e.type == "DoseAdministered"
                          and e.data["drug"] == "apatinib")
        assert not apatinib or 3 <= (apatinib[0] - start).days <= 7
        cycles = [e.data for e in events if e.type == "DoseAdministered"
                  and e.data["drug"] == "camrelizumab"]
        assert [c["cycle"] for c in cycles] == list(range(1, len(cycles) + 1))
        assert all(c["dose_mg"] == 200 and c["route"] == "IV" for c in cycles)
        scans = [e for e in events if e.type == "TumorAssessed"]
        assert scans[0].data["baseline"] and scans[0].occurred_on < start
        assert not any(s.data["baseline"] for s in scans[1:])
        terms = {e.data["term"] for e in events if e.type == "AdverseEventReported"}
        assert terms <= allowed_terms
    median_taces = sorted(sum(e.type == "TACEPerformed" for e in events)
                          for _, events in _effective(plan))[50]
    assert median_taces == 2
    assert any(e.data["term"] == RCCEP_TERM for _, events in _effective(plan) for e in events
               if e.type == "AdverseEventReported")


def test_every_read_meets_the_baseline_and_follow_up_rules() -> None:
    plan = plan_trial(participants=100, seed=2026)
    for _, events in _effective(plan):
        scans = [e for e in events if e.type == "TumorAssessed"]
        for criterion in CRITERIA:
            baseline = Read.model_validate(scans[0].data["reads"][criterion])
            assert baseline_problems(criterion, baseline) == []
            assert 1 <= len(baseline.targets) <= 5
            for scan in scans[1:]:
                read = Read.model_validate(scan.data["reads"][criterion])
                assert followup_problems(criterion, baseline, read) == []
        for scan in scans:
            whole = scan.data["reads"][RECIST_11]["targets"]
            viable = scan.data["reads"][MRECIST]["targets"]
            for w, v in zip(whole, viable, strict=True):
                if w["diameter_mm"] is not None and v["diameter_mm"] is not None:
                    assert v["diameter_mm"] <= w["diameter_mm"], (scan.participant_id, w, v)


@pytest.mark.parametrize("seed", [2026, 1])
def test_a_hundred_participants_resemble_the_published_results(seed: int) -> None:
    """docs/validation.md: mRECIST ORR 50-59 %, RECIST 1.1 ORR ~34 %, DCR 81-88 %, median PFS
    10.8-15.7 months, median OS 22-24.5 months; the bounds allow for 100 participants."""
    participants = fold_plan(plan_trial(participants=100, seed=seed))
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    mrecist = study_endpoints(participants, MRECIST, DATA_CUTOFF, as_of)
    recist = study_endpoints(participants, RECIST_11, DATA_CUTOFF, as_of)
    assert 0.40 <= mrecist["orr"]["rate"] <= 0.70
    assert 0.20 <= recist["orr"]["rate"] < mrecist["orr"]["rate"]
    assert 0.75 <= mrecist["dcr"]["rate"] <= 0.95
    assert 7.0 <= mrecist["pfs"]["median_months"] <= 18.0
    os_median = mrecist["os"]["median_months"]
    assert os_median is None or 16.0 <= os_median <= 30.0
    assert mrecist["population"]["treated"] == 100
