"""Each edit check (domain/edit_checks.py) on a participant built by its real commands: the
entry that should be queried fails with the field at fault; its plausible twin passes."""

from __future__ import annotations

from typing import Any

import pytest

from domain.edit_checks import CHECKS_BY_ID, EDIT_CHECKS, Finding, failing
from domain.participant import Participant
from domain.queries import system_query_id
from tests import story
from tests.unit.test_participant_rules import TODAY, entry, record


def enrolled(participant_id: str = "HCC-01-001", **overrides: Any) -> Participant:
    return Participant.enroll(participant_id, entry(story.enrollment(**overrides)), today=TODAY)


def check(check_id: str, participant: Participant, event_id: str) -> Finding | None:
    return CHECKS_BY_ID[check_id].evaluate(participant, participant.entries[event_id])


def scanned(*diameters: float, baseline: bool = True, on: str = "2026-01-08",
            participant: Participant | None = None) -> tuple[Participant, str]:
    p = participant or enrolled()
    new = record(p, story.scan(on, baseline=baseline, recist_mm=list(diameters),
                               mrecist_mm=list(diameters)))
    return p, new.event_id


def test_every_check_has_an_id_a_message_and_a_reason() -> None:
    assert len({c.id for c in EDIT_CHECKS}) == len(EDIT_CHECKS) >= 9
    assert all(c.message and c.reason and c.applies_to for c in EDIT_CHECKS)


def test_a_400_mm_target_lesion_is_queried_at_its_field_and_40_mm_is_not() -> None:
    p, typo = scanned(400, 30)
    finding = check("EC-TU-01", p, typo)
    assert finding == Finding("reads/RECIST 1.1/targets/0/diameter_mm",
                              "T1 (RECIST 1.1) 400 mm is above 200 mm")
    p, fine = scanned(40, 30)
    assert check("EC-TU-01", p, fine) is None


def test_a_lesion_that_doubles_against_the_previous_scan_is_queried() -> None:
    p, _ = scanned(30, 20)
    p, jump = scanned(30, 60, baseline=False, on="2026-02-20", participant=p)
    finding = check("EC-TU-02", p, jump)
    assert finding is not None and finding.field == "reads/RECIST 1.1/targets/1/diameter_mm"
    assert "60 mm against 20 mm on 2026-01-08" in finding.detail
    p, _ = scanned(30, 20)
    p, steady = scanned(28, 25, baseline=False, on="2026-02-20", participant=p)
    assert check("EC-TU-02", p, steady) is None


def test_a_small_jump_in_millimetres_is_not_queried_even_if_it_doubles() -> None:
    p, _ = scanned(30, 10)
    p, later = scanned(30, 21, baseline=False, on="2026-02-20", participant=p)
    assert check("EC-TU-02", p, later) is None


def test_a_scan_read_under_one_criterion_only_is_queried() -> None:
    p = enrolled()
    body = story.scan("2026-01-08", baseline=True, recist_mm=[40], mrecist_mm=[30])
    del body["data"]["reads"]["mRECIST"]
    one = record(p, body)
    assert check("EC-TU-03", p, one.event_id) == Finding("reads", "no mRECIST read")
    p, both = scanned(40)
    assert check("EC-TU-03", p, both) is None


def test_an_afp_beyond_the_plausible_range_is_queried() -> None:
    p = enrolled(afp_ng_ml=5_000_000)
    finding = check("EC-LB-01", p, p.enrollment.event_id)
    assert finding is not None and finding.field == "afp_ng_ml"
    p = enrolled(afp_ng_ml=412)
    assert check("EC-LB-01", p, p.enrollment.event_id) is None


@pytest.mark.parametrize(("participant_id", "site", "queried"), [
    ("HCC-03-900", "S01", True), ("HCC-01-900", "S01", False), ("HCC-12-001", "S12", False),
    ("X-7", "S01", False)])
def test_a_participant_id_of_another_sites_range_is_queried(participant_id: str, site: str,
                                                            queried: bool) -> None:
    p = enrolled(participant_id, site_id=site)
    finding = check("EC-EN-01", p, p.enrollment.event_id)
    assert (finding is not None) is queried
    if queried:
        assert finding == Finding("site_id", "participant HCC-03-900 is numbered for site S03 "
                                             "but enrolled at S01")


def test_a_grade_5_adverse_event_without_a_death_is_queried_until_the_death_is_recorded(
        ) -> None:
    p = enrolled()
    fatal = record(p, story.adverse_event("AE1", "2026-02-01", grade=5))
    finding = check("EC-AE-01", p, fatal.event_id)
    assert finding is not None and finding.field == "grade"
    record(p, story.death("2026-02-02"))
    assert check("EC-AE-01", p, fatal.event_id) is None


def test_an_adverse_event_resolved_as_fatal_without_a_death_is_queried() -> None:
    p = enrolled()
    record(p, story.adverse_event("AE1", "2026-02-01", grade=3))
    resolved = record(p, {"type": "AdverseEventResolved", "occurred_on": "2026-02-03",
                          "data": {"ae_id": "AE1", "outcome": "fatal"}})
    assert check("EC-AE-01", p, resolved.event_id) == Finding(
        "outcome", "adverse event AE1 resolved as fatal, and no death is recorded")


def test_a_grade_4_adverse_event_not_marked_serious_is_queried() -> None:
    p = enrolled()
    severe = record(p, story.adverse_event("AE1", "2026-02-01", grade=4))
    assert check("EC-AE-02", p, severe.event_id) == Finding(
        "serious", "adverse event AE1 is grade 4 but recorded as not serious")
    worse = record(p, story.ae_update("AE1", "2026-02-05", grade=4))
    assert check("EC-AE-02", p, worse.event_id) is not None
    mild = record(p, story.adverse_event("AE2", "2026-02-01", grade=3))
    assert check("EC-AE-02", p, mild.event_id) is None


def test_a_dose_while_the_drug_is_interrupted_is_queried_and_after_resuming_is_not() -> None:
    p = enrolled()
    record(p, story.camrelizumab("2026-01-15"))
    record(p, {"type": "DoseModified", "occurred_on": "2026-02-01",
               "data": {"drug": "camrelizumab", "action": "interrupted",
                        "reason": "grade 3 hepatitis"}})
    during = record(p, story.camrelizumab("2026-02-05", cycle=2))
    finding = check("EC-DS-01", p, during.event_id)
    assert finding == Finding("drug", "camrelizumab dosed on 2026-02-05 while interrupted "
                                      "since 2026-02-01")
    record(p, {"type": "DoseModified", "occurred_on": "2026-02-20",
               "data": {"drug": "camrelizumab", "action": "resumed", "reason": "recovered"}})
    after = record(p, story.camrelizumab("2026-02-26", cycle=3))
    assert check("EC-DS-01", p, after.event_id) is None
    other = record(p, story.apatinib("2026-02-05", end_on="2026-02-10"))
    assert check("EC-DS-01", p, other.event_id) is None


def test_a_dose_other_than_the_protocols_is_queried() -> None:
    p = enrolled()
    low = record(p, story.camrelizumab("2026-01-15", dose_mg=20))
    assert check("EC-DS-02", p, low.event_id) == Finding(
        "dose_mg", "camrelizumab 20 mg, not the 200 mg flat dose")
    high = record(p, story.apatinib("2026-01-16", end_on="2026-01-20", dose_mg=750))
    assert check("EC-DS-02", p, high.event_id) is not None
    usual = record(p, story.apatinib("2026-01-21", end_on="2026-01-30", dose_mg=250))
    assert check("EC-DS-02", p, usual.event_id) is None


def test_a_corrected_entry_is_checked_as_corrected_and_a_voided_one_passes() -> None:
    p, typo = scanned(400)
    fixed = story.scan("2026-01-08", baseline=True, recist_mm=[40], mrecist_mm=[40])["data"]
    record(p, story.correction(typo, TODAY.isoformat(), fixed))
    assert check("EC-TU-01", p, typo) is None
    p, typo = scanned(400)
    record(p, story.void(typo, TODAY.isoformat()))
    assert check("EC-TU-01", p, typo) is None


def test_failing_lists_every_failed_check_in_order() -> None:
    p = enrolled("HCC-02-001", afp_ng_ml=2_000_000)
    assert [c.id for c, _ in failing(p, p.enrollment)] == ["EC-LB-01", "EC-EN-01"]


def test_a_system_query_id_is_the_same_for_the_same_check_entry_and_trigger() -> None:
    one = system_query_id("EC-TU-01", "e1", "e1")
    assert one == system_query_id("EC-TU-01", "e1", "e1")
    assert len({one, system_query_id("EC-TU-02", "e1", "e1"),
                system_query_id("EC-TU-01", "e1", "c1")}) == 3
