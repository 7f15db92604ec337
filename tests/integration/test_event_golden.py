"""Golden files pin the stored shape of every event type and version: a shape never changes
silently (bump class_version and add an upcaster instead)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.account import Account
from domain.events import CATALOGUE
from domain.ledger_event import Author
from domain.participant import Participant
from domain.security_log import SecurityLog
from domain.study import Study
from services.application import TrialLedger
from tests import story
from tests.unit.test_participant_rules import entry

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "events"
FIXED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
EVENT_ID = "00000000-0000-4000-8000-000000000001"

SAMPLES: dict[str, dict[str, Any]] = {
    "ParticipantEnrolled": story.enrollment(),
    "DoseAdministered": story.apatinib("2026-01-18", end_on="2026-02-07"),
    "DoseModified": {"type": "DoseModified", "occurred_on": "2026-02-01",
                     "data": {"drug": "apatinib", "action": "reduced", "new_dose_mg": 125,
                              "reason": "grade 3 hand-foot skin reaction",
                              "adverse_event_id": "AE1"}},
    "TACEPerformed": story.tace("2026-01-14"),
    "TumorAssessed": story.scan("2026-01-08", baseline=True, recist_mm=[42, 18],
                                mrecist_mm=[35, 12]),
    "AdverseEventReported": story.adverse_event("AE1", "2026-01-25"),
    "AdverseEventUpdated": story.ae_update("AE1", "2026-02-01", grade=3),
    "AdverseEventResolved": story.ae_resolved("AE1", "2026-02-20"),
    "AnticancerTherapyStarted": {"type": "AnticancerTherapyStarted", "occurred_on": "2026-08-01",
                                 "data": {"therapy": "lenvatinib", "category": "systemic"}},
    "FollowUpContact": story.follow_up("2026-09-01"),
    "ParticipantDied": story.death("2026-10-01"),
    "ParticipantWithdrew": {"type": "ParticipantWithdrew", "occurred_on": "2026-03-01",
                            "data": {"reason": "moved abroad", "follow_up_allowed": True}},
    "EntryCorrected": story.correction(EVENT_ID, "2026-01-15", story.camrelizumab("x")["data"]),
    "EntryVoided": story.void(EVENT_ID, "2026-01-15"),
}


def _stored(ledger: TrialLedger, event: Any) -> dict[str, Any]:
    stored = ledger.mapper.to_stored_event(event)
    return {"topic": stored.topic, "class_version": getattr(type(event), "class_version", 1),
            "state": json.loads(stored.state)}


def _participant_event(type_name: str) -> Any:
    new = entry(SAMPLES[type_name])
    # The event's dataclass constructor is made by the library's metaclass, out of mypy's sight.
    cls: Callable[..., Participant.Event] = Participant.event_class(type_name)
    fields = {**new.event_fields("S01"), "event_id": EVENT_ID, "client_request_id": "req-1"}
    if type_name == "ParticipantEnrolled":
        fields["originator_topic"] = "domain.participant:Participant"
    return cls(originator_id="HCC-01-001", originator_version=1, timestamp=FIXED, **fields)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("type_name", sorted(CATALOGUE))
def test_participant_event_shapes(ledger: TrialLedger, type_name: str) -> None:
    assert set(SAMPLES) == set(CATALOGUE)
    _compare(f"{type_name}.v{CATALOGUE[type_name].version}.json",
             _stored(ledger, _participant_event(type_name)))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_account_event_shape(ledger: TrialLedger) -> None:
    account = Account.create(username="jdoe", full_name="Jane Doe", role="site_coordinator",
                             sites=["S01"], password_hash="$argon2id$v=19$m=65536,t=3,p=4$x$y",
                             event_id=EVENT_ID, actor="cli:root", actor_role="system")
    (created,) = account.collect_events()
    assert isinstance(created, Account.AccountCreated)
    created = type(created)(**{**created.__dict__, "timestamp": FIXED})
    _compare(f"AccountCreated.v{type(created).class_version}.json", _stored(ledger, created))


def _record_keeping_events() -> dict[str, Any]:
    """One event of every account, study, security-log and signature/lock type, by command."""
    admin, dm = Author("root", "admin", "req-1"), Author("dm", "data_manager", "req-1")
    account = Account.create(username="jdoe", full_name="Jane Doe", role="site_coordinator",
                             sites=["S01"], password_hash="$argon2id$v=19$m=65536,t=3,p=4$x$y",
                             event_id=EVENT_ID, actor="cli:root", actor_role="system")
    account.login_succeeded("req-1")
    for _ in range(5):
        account.login_failed("wrong password at sign-in", counts=True, client_request_id="req-1",
                             now=FIXED)
    account.unlock(admin, "identity confirmed")
    account.grant_role("investigator", admin, "promoted")
    account.assign_sites(["S01", "S02"], admin, "second site")
    account.change_password("$argon2id$v=19$m=65536,t=3,p=4$z$w", account.as_author("req-1"),
                            "password changed by its holder")
    account.revoke_role(admin, "left the study")
    account.deactivate(admin, "left the site")
    study = Study.open(dm)
    study.declare_cutoff("primary-analysis", date(2026, 6, 30), dm, "SAP 9.1")
    study.lock_database(dm, "final analysis")
    study.unlock_database(dm, "late query")
    security = SecurityLog.open()
    security.unknown_user("ghost", "req-1")
    participant = _participant_event("ParticipantEnrolled").mutate(None)
    participant.sign(full_name="Ivy Investigator", meaning="I approve this casebook",
                     covers_hash="ab" * 32, on=date(2026, 2, 1),
                     by=Author("invest1", "investigator", "req-1"))
    participant.lock_record(on=date(2026, 2, 1), by=dm, reason="ready for analysis")
    participant.unlock_record(on=date(2026, 2, 1), by=dm, reason="query on AE1")
    participant.transfer("S02", on=date(2026, 2, 1), by=dm, reason="moved to a nearer centre")
    events: dict[str, Any] = {}
    for aggregate in (account, study, security, participant):
        for event in aggregate.collect_events():
            name = f"{type(aggregate).__name__}.{type(event).__name__}"
            if type(event).__name__ in ("AccountCreated", "ParticipantEnrolled"):
                continue  # pinned by the tests above
            events.setdefault(name, type(event)(**{**event.__dict__, "timestamp": FIXED,
                                                   "event_id": EVENT_ID}))
    return events


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(_record_keeping_events()))
def test_record_keeping_event_shapes(ledger: TrialLedger, name: str) -> None:
    event = _record_keeping_events()[name]
    _compare(f"{name}.v{getattr(type(event), 'class_version', 1)}.json", _stored(ledger, event))


def _compare(name: str, actual: dict[str, Any]) -> None:
    path = GOLDEN / name
    if os.environ.get("TRIAL_LEDGER_WRITE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no golden file {name}: run with TRIAL_LEDGER_WRITE_GOLDEN=1 once"
    assert actual == json.loads(path.read_text())
