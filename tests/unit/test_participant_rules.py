"""The Participant aggregate's sequencing rules, as pure unit tests (no store)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from domain.errors import InvalidEntry, RuleViolation
from domain.events import CATALOGUE
from domain.participant import NewEntry, Participant
from services.api.casebook_view import casebook
from tests import story

TODAY = date(2026, 11, 25)


def entry(body: dict[str, Any]) -> NewEntry:
    return NewEntry(
        event_id=str(uuid.uuid4()), type=body["type"],
        occurred_on=date.fromisoformat(body["occurred_on"]),
        data=CATALOGUE[body["type"]].payload.model_validate(body["data"]),
        reason=body.get("reason"), actor="jdoe", role="site_coordinator",
    )


def enrolled(**overrides: Any) -> Participant:
    return Participant.enroll("HCC-01-001", entry(story.enrollment(**overrides)), today=TODAY)


def record(p: Participant, body: dict[str, Any]) -> NewEntry:
    new = entry(body)
    p.record(new, today=TODAY)
    return new


def test_enrollment_opens_the_stream_at_version_1() -> None:
    p = enrolled()
    assert p.version == 1 and p.site_id == "S01"
    assert casebook(p)["status"] == "on_treatment"


def test_consent_after_enrollment_is_refused() -> None:
    with pytest.raises(RuleViolation, match=r"consent \(2026-01-12\) must be on or before"):
        Participant.enroll("HCC-01-001", entry(story.enrollment(consented_on="2026-01-12")),
                           today=TODAY)


def test_first_event_must_be_enrollment() -> None:
    with pytest.raises(RuleViolation, match="must be ParticipantEnrolled"):
        Participant.enroll("HCC-01-001", entry(story.camrelizumab("2026-01-12")), today=TODAY)


def test_enrolled_only_once() -> None:
    p = enrolled()
    with pytest.raises(RuleViolation, match="already enrolled"):
        record(p, story.enrollment())


def test_dose_before_enrollment_is_refused() -> None:
    p = enrolled()
    with pytest.raises(RuleViolation, match="before enrollment on 2026-01-10"):
        record(p, story.camrelizumab("2026-01-09"))
    assert p.version == 1


def test_future_dates_are_refused() -> None:
    p = enrolled()
    with pytest.raises(InvalidEntry, match="after today"):
        record(p, story.camrelizumab("2026-11-26"))


def test_nothing_clinical_after_death_but_late_entries_before_it_are_fine() -> None:
    p = enrolled()
    record(p, story.death("2026-05-01"))
    with pytest.raises(RuleViolation, match="after the participant's death on 2026-05-01"):
        record(p, story.follow_up("2026-05-02"))
    record(p, story.camrelizumab("2026-04-20"))  # recorded late, dated before death
    with pytest.raises(RuleViolation, match="already died"):
        record(p, story.death("2026-05-01"))
    assert casebook(p)["status"] == "dead"


def test_death_dated_before_an_existing_dose_is_refused() -> None:
    p = enrolled()
    record(p, story.camrelizumab("2026-03-01"))
    with pytest.raises(RuleViolation, match="after the participant's death on 2026-02-01"):
        record(p, story.death("2026-02-01"))


def test_adverse_event_ids_are_unique_and_follow_ups_name_a_reported_one() -> None:
    p = enrolled()
    record(p, story.adverse_event("AE1", "2026-02-01"))
    with pytest.raises(RuleViolation, match="AE1 is already used"):
        record(p, story.adverse_event("AE1", "2026-02-03"))
    with pytest.raises(RuleViolation, match="AE9, which has not been reported"):
        record(p, story.ae_update("AE9", "2026-02-05", grade=3))
    with pytest.raises(RuleViolation, match="before its onset"):
        record(p, story.ae_update("AE1", "2026-01-30", grade=3))
    record(p, story.ae_update("AE1", "2026-02-05", grade=3))
    record(p, story.ae_resolved("AE1", "2026-02-20"))
    with pytest.raises(RuleViolation, match="already resolved"):
        record(p, story.ae_update("AE1", "2026-02-21", grade=1))
    (ae,) = casebook(p)["adverse_events"]
    assert (ae["grade"], ae["worst_grade"], ae["outcome"]) == (3, 3, "recovered")


def test_correction_changes_the_effective_entry_and_keeps_the_original_event() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12", dose_mg=20))
    fix = record(p, story.correction(dose.event_id, "2026-01-12",
                                     story.camrelizumab("x")["data"], new_date="2026-01-13"))
    effective = p.entries[dose.event_id]
    assert effective.data["dose_mg"] == 200 and effective.occurred_on == date(2026, 1, 13)
    assert effective.corrected_by == [fix.event_id]
    assert p.version == 3  # nothing overwritten: the dose and its correction are both events


def test_correction_needs_a_reason_and_valid_data_for_the_target_type() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12"))
    no_reason = story.correction(dose.event_id, "2026-01-12", story.camrelizumab("x")["data"])
    no_reason["reason"] = None
    with pytest.raises(InvalidEntry, match="needs a reason"):
        record(p, no_reason)
    bad = story.correction(dose.event_id, "2026-01-12", {"drug": "camrelizumab", "dose_mg": -1,
                                                        "route": "IV"})
    with pytest.raises(InvalidEntry) as caught:
        record(p, bad)
    assert [prob.loc for prob in caught.value.problems] == ["data.data.dose_mg"]


def test_correction_cannot_move_a_dose_before_enrollment() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12"))
    with pytest.raises(RuleViolation, match="before enrollment"):
        record(p, story.correction(dose.event_id, "2026-01-12", story.camrelizumab("x")["data"],
                                   new_date="2026-01-01"))


def test_corrections_and_voids_target_existing_not_voided_clinical_events() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12"))
    with pytest.raises(RuleViolation, match="has no such event"):
        record(p, story.void(str(uuid.uuid4()), "2026-01-12"))
    voided = record(p, story.void(dose.event_id, "2026-01-12"))
    with pytest.raises(RuleViolation, match=f"voided by {voided.event_id}"):
        record(p, story.correction(dose.event_id, "2026-01-12", story.camrelizumab("x")["data"]))
    with pytest.raises(RuleViolation, match="is itself a EntryVoided"):
        record(p, story.void(voided.event_id, "2026-01-12"))
    with pytest.raises(RuleViolation, match="enrollment cannot be voided"):
        record(p, story.void(p.enrollment.event_id, "2026-01-12"))
    assert casebook(p)["doses"]["camrelizumab"] == []


def test_voiding_a_death_reopens_the_timeline() -> None:
    p = enrolled()
    died = record(p, story.death("2026-03-01"))
    record(p, story.void(died.event_id, "2026-03-01", reason="wrong participant"))
    record(p, story.follow_up("2026-04-01"))
    assert casebook(p)["status"] == "on_treatment"
    assert casebook(p)["last_known_alive_on"] == "2026-04-01"


def test_withdrawal_stops_treatment_but_not_follow_up() -> None:
    p = enrolled()
    record(p, {"type": "ParticipantWithdrew", "occurred_on": "2026-03-01",
               "data": {"reason": "moved away", "follow_up_allowed": True}})
    with pytest.raises(RuleViolation, match="after withdrawal"):
        record(p, story.camrelizumab("2026-03-02"))
    record(p, story.follow_up("2026-06-01"))
    assert casebook(p)["status"] == "withdrawn"


def test_casebook_treatment_start_is_the_earliest_dose_or_tace() -> None:
    p = enrolled()
    record(p, story.camrelizumab("2026-01-20"))
    record(p, story.tace("2026-01-15"))
    record(p, story.apatinib("2026-01-18", end_on="2026-02-10"))
    book = casebook(p)
    assert book["treatment_start_on"] == "2026-01-15"
    assert len(book["tace_sessions"]) == 1 and len(book["doses"]["apatinib"]) == 1


def test_route_must_match_the_drug() -> None:
    with pytest.raises(ValueError, match="camrelizumab is given IV, not oral"):
        CATALOGUE["DoseAdministered"].payload.model_validate(
            {"drug": "camrelizumab", "dose_mg": 200, "route": "oral"})


def test_a_refused_entry_leaves_the_participant_exactly_as_it_was() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12", dose_mg=20))
    record(p, story.death("2026-03-01"))
    before = casebook(p), p.version, {k: (e.data, e.occurred_on, list(e.corrected_by),
                                          e.voided_by) for k, e in p.entries.items()}
    with pytest.raises(RuleViolation):  # the corrected date would fall after death
        record(p, story.correction(dose.event_id, "2026-01-12", story.camrelizumab("x")["data"],
                                   new_date="2026-03-05"))
    with pytest.raises(RuleViolation):  # voiding the death would be fine, but not twice dead
        record(p, story.death("2026-02-01"))
    after = casebook(p), p.version, {k: (e.data, e.occurred_on, list(e.corrected_by),
                                         e.voided_by) for k, e in p.entries.items()}
    assert after == before and p.pending_events[-1].originator_version == p.version
