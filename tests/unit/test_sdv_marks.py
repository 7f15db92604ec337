"""SDV marks on one participant, as pure unit tests (no store): what a mark binds to, what is
refused, and when a mark stops holding."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidEntry, RuleViolation
from domain.ledger_event import Author
from domain.sdv import SourceVerification, entry_sha256, stale_because, visit_entries
from tests import story
from tests.unit.test_participant_rules import enrolled, record

MONITOR = Author("monitor1", "monitor")
TODAY = "2026-11-25"


def _opened(participant_id: str = "HCC-01-001") -> SourceVerification:
    return SourceVerification.open(participant_id, MONITOR, "S01")


def test_a_mark_binds_to_the_entry_as_verified() -> None:
    p = enrolled()
    scan = record(p, story.scan("2026-01-08", baseline=True, recist_mm=[40], mrecist_mm=[35]))
    sdv = _opened()
    sdv.verify(p, [scan.event_id], MONITOR, visit="Screening", comment="CT report")
    mark = sdv.current(scan.event_id)
    assert mark is not None and mark.standing
    assert mark.participant_version == p.version == 2
    assert mark.entry_sha256 == entry_sha256(p.entries[scan.event_id])
    assert (mark.by, mark.visit, mark.comment) == ("monitor1", "Screening", "CT report")
    assert stale_because(mark, p) is None


def test_what_cannot_be_verified_is_refused_with_where() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12"))
    sdv = _opened()
    with pytest.raises(InvalidEntry) as unknown:
        sdv.verify(p, [dose.event_id, "0b7e6a53-2f1c-4c1e-9d61-6b0f3a4f8c11"], MONITOR)
    assert [problem.loc for problem in unknown.value.problems] == ["event_ids.1"]
    with pytest.raises(InvalidEntry, match="event_ids.1: listed twice"):
        sdv.verify(p, [dose.event_id, dose.event_id], MONITOR)
    fix = record(p, story.correction(dose.event_id, TODAY, story.camrelizumab("x")["data"]
                                     | {"cycle": 2}))
    with pytest.raises(RuleViolation, match="not a clinical entry") as correction:
        sdv.verify(p, [fix.event_id], MONITOR)
    assert correction.value.rule == "not_verifiable"
    sdv.verify(p, [dose.event_id], MONITOR)
    with pytest.raises(RuleViolation, match="verified by monitor1") as again:
        sdv.verify(p, [dose.event_id], MONITOR)
    assert again.value.rule == "already_verified"
    record(p, story.void(dose.event_id, TODAY))
    with pytest.raises(RuleViolation, match="is voided"):
        sdv.verify(p, [dose.event_id], MONITOR)


def test_a_correction_after_the_mark_makes_it_stale_and_a_new_mark_withdraws_it_first(
) -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12"))
    sdv = _opened()
    sdv.verify(p, [dose.event_id], MONITOR)
    first = sdv.current(dose.event_id)
    assert first is not None
    fix = record(p, story.correction(dose.event_id, TODAY, story.camrelizumab("x")["data"]
                                     | {"dose_mg": 180}))
    assert stale_because(first, p) == fix.event_id
    assert visit_entries(p, date(2026, 1, 12), sdv) == [dose.event_id]
    sdv.verify(p, [dose.event_id], MONITOR)  # the corrected entry, verified again
    withdrawn, mark = sdv.marks[dose.event_id]
    assert withdrawn.withdrawn_because == fix.event_id and not withdrawn.standing
    assert mark.standing and stale_because(mark, p) is None
    assert mark.entry_sha256 != withdrawn.entry_sha256
    assert sdv.withdraw_stale(p) == []  # nothing stale: nothing recorded
    assert visit_entries(p, date(2026, 1, 12), sdv) == []


def test_withdrawal_records_only_what_is_stale_and_only_once() -> None:
    p = enrolled()
    dose = record(p, story.camrelizumab("2026-01-12"))
    tace = record(p, story.tace("2026-01-13"))
    sdv = _opened()
    sdv.verify(p, [dose.event_id, tace.event_id], MONITOR)
    void = record(p, story.void(tace.event_id, TODAY))
    pending = len(sdv.pending_events)
    assert sdv.withdraw_stale(p) == [tace.event_id]
    assert sdv.withdraw_stale(p) == []
    (withdrawal,) = sdv.pending_events[pending:]
    assert isinstance(withdrawal, SourceVerification.VerificationWithdrawn)
    assert (withdrawal.withdraws, withdrawal.because) == (tace.event_id, void.event_id)
    assert (withdrawal.actor, withdrawal.role) == ("system", "system")
    assert sdv.current(dose.event_id).standing  # type: ignore[union-attr]
