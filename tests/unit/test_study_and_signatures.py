"""Pure rules of cutoffs, locks and signatures (no store): the Study and Participant folds."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidEntry, RuleViolation
from domain.ledger_event import Author
from domain.participant import Participant
from domain.study import Study
from services.api.casebook_view import casebook
from tests import story
from tests.unit.test_participant_rules import TODAY, enrolled, entry, record

DM = Author("dm", "data_manager")
INVESTIGATOR = Author("invest1", "investigator")


def signed(p: Participant, meaning: str = "I approve this casebook") -> None:
    p.sign(full_name="Ivy Investigator", meaning=meaning, covers_hash="ab" * 32, on=TODAY,
           by=INVESTIGATOR)


def test_a_cutoff_name_is_unique_and_never_a_date() -> None:
    study = Study.open(DM)
    study.declare_cutoff("primary-analysis", date(2026, 6, 30), DM, "SAP §9.1")
    with pytest.raises(RuleViolation, match="already declared"):
        study.declare_cutoff("primary-analysis", date(2026, 7, 31), DM, "moved")
    with pytest.raises(InvalidEntry, match="must start with a letter"):
        study.declare_cutoff("2026-06-30", date(2026, 6, 30), DM, "x")
    assert study.cutoffs["primary-analysis"].cutoff_on == date(2026, 6, 30)
    assert [c["name"] for c in study.cutoff_views()] == ["primary-analysis"]


def test_the_database_lock_toggles_with_reasons() -> None:
    study = Study.open(DM)
    with pytest.raises(RuleViolation, match="not locked"):
        study.unlock_database(DM, "x")
    study.lock_database(DM, "final analysis")
    assert study.database_lock is not None and (study.database_lock.by, study.database_lock.reason) == (
        "dm", "final analysis")
    with pytest.raises(RuleViolation, match="already locked"):
        study.lock_database(DM, "again")
    study.unlock_database(DM, "late query from site S01")
    assert study.database_lock is None


def test_a_signature_covers_the_version_before_it_and_is_not_a_clinical_entry() -> None:
    p = enrolled()
    record(p, story.camrelizumab("2026-01-12"))
    before = casebook(p)
    signed(p)
    (signature,) = p.signatures
    assert (signature.covers_version, signature.version, signature.status) == (2, 3, "valid")
    assert casebook(p) == {**before, "version": 3}  # the casebook's content is unchanged
    assert all(e.type != "CasebookSigned" for e in p.effective_entries())


def test_a_later_entry_invalidates_every_standing_signature_once() -> None:
    p = enrolled()
    signed(p, "reviewed")
    signed(p, "approved")
    dose = record(p, story.camrelizumab("2026-01-12"))
    assert [s.invalidated_by for s in p.signatures] == [dose.event_id, dose.event_id]
    signed(p, "approved again")
    fix = record(p, story.correction(dose.event_id, "2026-01-12",
                                     story.camrelizumab("x", dose_mg=180)["data"]))
    assert [s.invalidated_by for s in p.signatures] == [dose.event_id, dose.event_id,
                                                        fix.event_id]


def test_locks_do_not_invalidate_signatures_and_toggle_with_reasons() -> None:
    p = enrolled()
    signed(p)
    p.lock_record(on=TODAY, by=DM, reason="ready for analysis")
    with pytest.raises(RuleViolation, match="already locked"):
        p.lock_record(on=TODAY, by=DM, reason="again")
    p.unlock_record(on=TODAY, by=DM, reason="query on AE1")
    with pytest.raises(RuleViolation, match="not locked"):
        p.unlock_record(on=TODAY, by=DM, reason="again")
    assert p.signatures[0].status == "valid" and p.data_lock is None


def test_signatures_and_locks_are_never_corrected_or_voided() -> None:
    p = enrolled()
    signed(p)
    p.lock_record(on=TODAY, by=DM, reason="ready")
    signature_id, lock_id = (e.event_id for e in p.entries.values()
                             if e.type in ("CasebookSigned", "ParticipantLocked"))
    with pytest.raises(RuleViolation, match="never corrected: a later entry invalidates"):
        record(p, story.correction(signature_id, "2026-01-12", {"meaning": "forged"}))
    with pytest.raises(RuleViolation, match="never voided: unlock the participant instead"):
        record(p, story.void(lock_id, "2026-01-12"))


def test_a_decision_on_a_copy_never_changes_the_participant_readers_hold() -> None:
    """A write decides on `Participant.recorded` (a copy sharing entries and signatures with
    the cached participant): a correction, a void and the signature they invalidate change
    only the copy."""
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12", dose_mg=20))
    contact = record(p, story.follow_up("2026-01-20"))
    signed(p)
    before = casebook(p)
    held_dose, held_signature = p.entries[dose.event_id], p.signatures[0]

    fixed = p.recorded(entry(story.correction(dose.event_id, TODAY.isoformat(),
                                              story.camrelizumab("x")["data"])), today=TODAY)
    voided = fixed.recorded(entry(story.void(contact.event_id, TODAY.isoformat())), today=TODAY)

    assert casebook(p) == before
    assert p.entries[dose.event_id] is held_dose and held_dose.data["dose_mg"] == 20
    assert held_dose.corrected_by == [] and p.entries[contact.event_id].voided_by is None
    assert held_signature.invalidated_by is None and p.signatures[0] is held_signature
    assert voided.entries[dose.event_id].data["dose_mg"] == 200
    assert voided.entries[contact.event_id].voided_by is not None
    assert voided.signatures[0].invalidated_by is not None
    assert fixed.entries[contact.event_id].voided_by is None
