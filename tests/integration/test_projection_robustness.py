"""No event in the log can stop a projection: text holding NUL, C1 controls, bidi and zero-width
characters, emoji, combining marks or thousands of characters (as an older release or a script
using the application layer could have recorded) is projected and rebuilt on both stores to
the same state."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import (
    AdverseEventReportedData,
    AnticancerTherapyStartedData,
    EntryCorrectedData,
    ParticipantEnrolledData,
    ParticipantWithdrewData,
    Payload,
    TACEPerformedData,
    TumorAssessedData,
)
from domain.response.reads import Read, TargetLesion
from domain.text import storable
from projections.runner import Projector
from projections.state import rebuild, state_hashes
from projections.tables import audit_feed
from services.application import Actor, Submission, TrialLedger

PIECES = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\x9f", "\u202e", "\u2066", "\u200f",
          "\u061c", "\u200b", "\u200d", "\ufeff", "\u2028", "\U0001f9ec", "e\u0301", "\u0645\u0631",
          "\u65e5\u672c", "'; DROP TABLE audit_feed; --", "\\u0000", "plain", " ", "\n", "\t"]
awkward = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
    st.tuples(st.sampled_from(PIECES), st.integers(1000, 5000)).map(lambda p: p[0] * p[1]),
)
ids = itertools.count(1)


def _record(ledger: TrialLedger, pid: str, type_: str, on: str, data: Payload, actor: Actor,
            reason: str | None = None, request_id: str | None = None) -> str:
    recorded, _ = ledger.record_participant_event(
        pid, Submission(type_, date.fromisoformat(on), data, reason), actor,
        request_id=request_id)
    return recorded.event_id


def _read(lesion_id: str, organ: str) -> Read:
    target = TargetLesion.model_construct(lesion_id=lesion_id, organ=organ, nodal=False,
                                          diameter_mm=42.0, too_small=False)
    return Read.model_construct(targets=[target], non_targets=[], new_lesions=[])


def _story(ledger: TrialLedger, pid: str, text: list[str]) -> str:
    """Seven events of one participant, every free-form string taken from `text`; returns the
    last reason recorded."""
    actor = Actor(f"coord{text[0]}", f"site_coordinator{text[1]}", text[2], ("S01",))
    enrolment = ParticipantEnrolledData.model_construct(
        site_id="S01", consented_on=date(2026, 1, 5), sex="M", birth_year=1961, ecog=1,
        child_pugh="A5", bclc="C", pvtt=True, extrahepatic_spread=False, etiology="HBV",
        afp_ng_ml=412.0)
    _record(ledger, pid, "ParticipantEnrolled", "2026-01-10", enrolment, actor, reason=text[3],
            request_id=text[4])
    _record(ledger, pid, "TumorAssessed", "2026-01-11", TumorAssessedData.model_construct(
        modality="CT", baseline=True, reader=text[5],
        reads={"RECIST 1.1": _read(text[6], text[7]), "mRECIST": _read(text[6], text[7])}),
        actor)
    tace = _record(ledger, pid, "TACEPerformed", "2026-01-13", TACEPerformedData.model_construct(
        technique="cTACE", agent=text[8], agent_dose_mg=50.0, lipiodol_ml=None,
        embolic_agent=text[9]), actor)
    _record(ledger, pid, "AdverseEventReported", "2026-01-20",
            AdverseEventReportedData.model_construct(
                ae_id=text[10], term=text[11], grade=2, serious=False, related_to=["TACE"],
                immune_related=False), actor)
    _record(ledger, pid, "AnticancerTherapyStarted", "2026-02-01",
            AnticancerTherapyStartedData.model_construct(therapy=text[12], category="systemic"),
            actor)
    _record(ledger, pid, "EntryCorrected", "2026-01-13", EntryCorrectedData.model_construct(
        corrects=tace, data={"technique": "cTACE", "agent": "epirubicin",
                             "agent_dose_mg": 40.0}), actor, reason=text[13])
    _record(ledger, pid, "ParticipantWithdrew", "2026-02-02",
            ParticipantWithdrewData.model_construct(reason=text[14], follow_up_allowed=True),
            actor, reason=text[15])
    return text[15]


def _hashes(engine: sa.Engine, generation: int | None = None) -> dict[str, tuple[int, str]]:
    return {name: (state["rows"], state["state_hash"])
            for name, state in state_hashes(engine, generation).items()}


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.lists(awkward, min_size=16, max_size=16))
def test_awkward_text_in_the_log_never_stops_a_projection_or_a_rebuild(
        ledger: TrialLedger, engine: sa.Engine, text: list[str]) -> None:
    pid = f"HCC-01-{next(ids):03d}"
    last_reason = _story(ledger, pid, text)
    live = Projector(ledger, engine)
    live.catch_up()
    projected = _hashes(engine)
    rebuild(ledger, engine)
    assert _hashes(engine) == projected
    with engine.connect() as conn:
        stored = conn.execute(sa.select(audit_feed.c.reason).where(
            audit_feed.c.stream_id == pid).order_by(audit_feed.c.position.desc())).scalar()
    assert stored == storable(last_reason)
    assert "\x00" not in (stored or "")


def test_a_lone_surrogate_never_reaches_the_log(ledger: TrialLedger) -> None:
    """UTF-8 cannot encode a lone surrogate, so the event store refuses it before writing."""
    before = ledger.store.count()
    data = ParticipantEnrolledData.model_construct(
        site_id="S01", consented_on=date(2026, 1, 5), sex="M", birth_year=1961, ecog=1,
        child_pugh="A5", bclc="C", pvtt=True, extrahepatic_spread=False, etiology="HBV",
        afp_ng_ml=412.0)
    with pytest.raises(UnicodeEncodeError):
        ledger.record_participant_event(
            "HCC-01-999", Submission("ParticipantEnrolled", date(2026, 1, 10), data,
                                     "entered\ud800"), Actor("coord", "site_coordinator"))
    assert ledger.store.count() == before


def test_storable_replaces_only_what_a_text_column_cannot_hold() -> None:
    assert storable("a\x00b\ud800c\u202e\U0001f9ec") == "a\ufffdb\ufffdc\u202e\U0001f9ec"
    assert storable("plain") == "plain"
