"""A participant's responses and endpoints from their entries, worked by hand (no store).

Every story: enrolled 2026-01-10, baseline scan 2026-01-12, TACE 2026-01-14 (treatment start),
follow-up scans every 6 weeks: week 6 = 2026-02-25 (day 43 as a time to event, 42 elapsed),
week 12 = 2026-04-08 (day 85), week 18 = 2026-05-20 (day 127), week 24 = 2026-07-01 (day 169).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.adverse_events import adverse_event_records
from domain.analysis.time_to_event import (
    ALIVE_AT_CUTOFF,
    ALIVE_AT_LAST_CONTACT,
    NEW_ANTICANCER_THERAPY,
    NO_ADEQUATE_ASSESSMENT,
    NO_EVENT_BY_CUTOFF,
    TimeToEvent,
)
from domain.errors import InvalidEntry
from domain.events import CATALOGUE
from domain.participant import NewEntry, Participant
from domain.participant_outcome import participant_outcome
from domain.protocol import MRECIST
from domain.protocol import RECIST_11 as RECIST
from domain.study_reports import study_endpoints
from services.api.analysis_view import study_safety
from services.api.casebook_view import casebook
from tests import story

TODAY = date(2026, 11, 25)
START = date(2026, 1, 14)
AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def week(n: int) -> str:
    return (START + timedelta(weeks=n)).isoformat()


def entry(body: dict[str, Any]) -> NewEntry:
    return NewEntry(
        event_id=str(uuid.uuid4()), type=body["type"],
        occurred_on=date.fromisoformat(body["occurred_on"]),
        data=CATALOGUE[body["type"]].payload.model_validate(body["data"]),
        reason=body.get("reason"), actor="jdoe", role="site_coordinator",
    )


def record(p: Participant, body: dict[str, Any]) -> NewEntry:
    new = entry(body)
    p.record(new, today=TODAY)
    return new


def treated(pid: str = "HCC-01-001", *, recist: list[float], mrecist: list[float] | None = None
            ) -> Participant:
    """Enrolled, baseline scanned (liver targets T1..), then TACE on START."""
    p = Participant.enroll(pid, entry(story.enrollment()), today=TODAY)
    record(p, story.scan("2026-01-12", baseline=True, recist_mm=recist,
                         mrecist_mm=recist if mrecist is None else mrecist))
    record(p, story.tace(START.isoformat()))
    return p


def scan(p: Participant, on: str, recist: list[float | None], mrecist: list[float | None] | None
         = None, new: dict[str, Any] | None = None) -> None:
    """A follow-up; `new` adds one new liver lesion N1 to both reads."""
    body = story.scan(on, baseline=False, recist_mm=recist,  # type: ignore[arg-type]
                      mrecist_mm=recist if mrecist is None else mrecist)  # type: ignore[arg-type]
    if new is not None:
        for read in body["data"]["reads"].values():
            read["new_lesions"] = [{"lesion_id": "N1", "organ": "liver", **new}]
    record(p, body)


def event(days: int) -> TimeToEvent:
    return TimeToEvent(days, True, None)


# -- responses and best overall response ----------------------------------------------------


def test_confirmed_pr_then_pd_gives_pr_and_a_pfs_event_at_the_pd() -> None:
    p = treated(recist=[50])
    scan(p, week(6), [30])   # 30 <= 0.7 x 50: PR
    scan(p, week(12), [30])  # PR again, 42 days later: confirmed
    scan(p, week(24), [40])  # nadir 30: 40 >= 36 and +10 mm: PD
    outcome = participant_outcome(p, date(2026, 11, 1))
    recist = outcome.by_criterion[RECIST]
    assert [tp.overall.value for tp in recist.timepoints] == ["PR", "PR", "PD"]
    assert recist.best is not None
    assert (recist.best.confirmed.value, recist.best.unconfirmed.value) == ("PR", "PR")
    assert recist.best.response_start_on == date(2026, 2, 25)
    assert recist.pfs == event(169)          # 2026-07-01 - 2026-01-14 + 1
    assert recist.dor == event(127)          # 2026-07-01 - 2026-02-25 + 1
    assert outcome.os == TimeToEvent(169, False, ALIVE_AT_LAST_CONTACT)
    summary = outcome.summary(RECIST)
    assert (summary.treated, summary.evaluable, summary.best_overall_response) == (
        True, True, "PR")


def test_a_new_lesion_is_pd_under_recist_but_not_under_mrecist_until_it_qualifies() -> None:
    p = treated(recist=[50])
    scan(p, week(6), [30])
    scan(p, week(12), [30], new={"diameter_mm": 8.0, "unequivocal": True, "typical_hcc": True})
    early = participant_outcome(p, date(2026, 5, 1))
    assert [tp.overall.value for tp in early.by_criterion[RECIST].timepoints] == ["PR", "PD"]
    # RECIST: the PR at week 6 is not confirmed (PD next) but, at 42 days, counts as SD.
    recist = early.by_criterion[RECIST]
    assert recist.best is not None
    assert (recist.best.confirmed.value, recist.best.unconfirmed.value) == ("SD", "PR")
    assert recist.pfs == event(85) and recist.dor is None
    # mRECIST: an 8 mm new lesion does not count, so the PR is confirmed at week 12.
    mrecist = early.by_criterion[MRECIST]
    assert [tp.overall.value for tp in mrecist.timepoints] == ["PR", "PR"]
    assert mrecist.best is not None and mrecist.best.confirmed.value == "PR"

    # At week 18 N1 measures 15 mm: mRECIST PD back-dated to week 12, where it appeared.
    scan(p, week(18), [30], new={"diameter_mm": 15.0, "unequivocal": True, "typical_hcc": True})
    late = participant_outcome(p, date(2026, 11, 1)).by_criterion[MRECIST]
    assert [(tp.overall.value, tp.backdated) for tp in late.timepoints] == [
        ("PR", False), ("PD", True), ("PD", False)]
    assert late.best is not None and late.best.confirmed.value == "SD"
    assert late.pfs == event(85)
    # ... while the earlier cutoff still sees what was known by then.
    assert participant_outcome(p, date(2026, 5, 1)).by_criterion[MRECIST] == mrecist


def test_mrecist_pr_where_recist_sd() -> None:
    p = treated(recist=[40], mrecist=[40])
    scan(p, week(6), [36], [20])   # RECIST -10%: SD at 42 days; mRECIST -50%: PR
    scan(p, week(12), [36], [20])
    outcome = participant_outcome(p, date(2026, 11, 1))
    bor = {c: o.best.confirmed.value for c, o in outcome.by_criterion.items() if o.best}
    assert bor == {RECIST: "SD", MRECIST: "PR"}
    assert outcome.by_criterion[RECIST].pfs == TimeToEvent(85, False, NO_EVENT_BY_CUTOFF)
    assert outcome.by_criterion[MRECIST].dor == TimeToEvent(43, False, NO_EVENT_BY_CUTOFF)


def test_no_post_baseline_scan_is_ne_and_pfs_is_censored_at_day_one() -> None:
    p = treated(recist=[50])
    record(p, story.follow_up("2026-03-01"))
    outcome = participant_outcome(p, date(2026, 11, 1))
    recist = outcome.by_criterion[RECIST]
    assert recist.evaluable and recist.best is not None and recist.best.confirmed.value == "NE"
    assert recist.pfs == TimeToEvent(1, False, NO_ADEQUATE_ASSESSMENT)
    assert outcome.os == TimeToEvent(47, False, ALIVE_AT_LAST_CONTACT)


# -- the cutoff ------------------------------------------------------------------------------


def test_death_after_the_cutoff_censors_os_at_the_cutoff() -> None:
    p = treated(recist=[50])
    scan(p, week(6), [45])
    record(p, story.death("2026-09-01"))
    before = participant_outcome(p, date(2026, 8, 1))
    assert before.os == TimeToEvent(200, False, ALIVE_AT_CUTOFF)  # 2026-08-01 - 01-14 + 1
    assert before.by_criterion[RECIST].pfs == TimeToEvent(43, False, NO_EVENT_BY_CUTOFF)
    after = participant_outcome(p, date(2026, 10, 1))
    assert after.os == event(231)
    # Death 188 elapsed days after the last adequate read (> 98): two missed assessments.
    assert after.by_criterion[RECIST].pfs == TimeToEvent(43, False, "two missed assessments")


def test_a_scan_after_the_cutoff_shows_the_participant_alive_at_the_cutoff() -> None:
    p = treated(recist=[50])
    scan(p, week(6), [30])
    scan(p, week(24), [60])  # PD, after the cutoff below
    outcome = participant_outcome(p, date(2026, 6, 30))
    assert [tp.on for tp in outcome.by_criterion[RECIST].timepoints] == [date(2026, 2, 25)]
    assert outcome.by_criterion[RECIST].pfs == TimeToEvent(43, False, NO_EVENT_BY_CUTOFF)
    assert outcome.os == TimeToEvent(168, False, ALIVE_AT_CUTOFF)


def test_treatment_after_the_cutoff_is_not_treatment_yet() -> None:
    p = treated(recist=[50])
    outcome = participant_outcome(p, date(2026, 1, 13))
    assert outcome.treatment_start_on is None and outcome.os is None
    summary = outcome.summary(MRECIST)
    assert (summary.treated, summary.evaluable, summary.best_overall_response) == (
        False, False, "NE")
    assert summary.pfs is None and summary.dor is None


def test_off_protocol_therapy_censors_pfs_and_ends_the_reads_for_bor() -> None:
    p = treated(recist=[50])
    scan(p, week(6), [45])
    record(p, {"type": "AnticancerTherapyStarted", "occurred_on": "2026-03-10",
               "data": {"therapy": "sorafenib", "category": "systemic"}})
    scan(p, week(12), [20])
    scan(p, week(18), [20])
    recist = participant_outcome(p, date(2026, 11, 1)).by_criterion[RECIST]
    assert recist.best is not None and recist.best.confirmed.value == "SD"
    assert recist.pfs == TimeToEvent(43, False, NEW_ANTICANCER_THERAPY)


# -- which scan is the baseline ------------------------------------------------------------


def test_the_latest_baseline_on_or_before_treatment_start_is_used() -> None:
    p = Participant.enroll("HCC-01-001", entry(story.enrollment()), today=TODAY)
    record(p, story.scan("2026-01-11", baseline=True, recist_mm=[80], mrecist_mm=[80]))
    record(p, story.scan("2026-01-13", baseline=True, recist_mm=[50], mrecist_mm=[50]))
    record(p, story.tace(START.isoformat()))
    record(p, story.scan("2026-01-20", baseline=True, recist_mm=[20], mrecist_mm=[20]))
    scan(p, week(6), [35])  # PR against 50 (not 80, not 20)
    recist = participant_outcome(p).by_criterion[RECIST]
    assert recist.baseline is not None and recist.baseline.on == date(2026, 1, 13)
    assert [tp.overall.value for tp in recist.timepoints] == ["PR"]
    roles = [(row["occurred_on"], row["role"]) for row in casebook(p)["assessments"]
             if row["criterion"] == RECIST]
    assert roles == [("2026-01-11", "not_used"), ("2026-01-13", "baseline"),
                     ("2026-01-20", "not_used"), ("2026-02-25", "follow_up")]


def test_a_baseline_without_targets_is_not_evaluable() -> None:
    p = treated(recist=[])
    scan(p, week(6), [])
    summary = participant_outcome(p, date(2026, 11, 1)).summary(RECIST)
    assert (summary.treated, summary.evaluable) == (True, False)
    assert summary.pfs == TimeToEvent(1, False, NO_ADEQUATE_ASSESSMENT)


# -- the casebook ------------------------------------------------------------------------


def test_casebook_shows_assessments_best_response_and_times_to_event() -> None:
    p = treated(recist=[50, 20], mrecist=[40, 20])
    scan(p, week(6), [30, 5], [10, 0])
    book = casebook(p)
    rows = {(r["occurred_on"], r["criterion"]): r for r in book["assessments"]}
    assert rows[("2026-01-12", RECIST)]["role"] == "baseline"
    assert rows[("2026-01-12", RECIST)]["sum_mm"] == 70.0
    follow = rows[("2026-02-25", MRECIST)]
    assert (follow["sum_mm"], follow["response"], follow["target"], follow["non_target"],
            follow["new_lesion"], follow["backdated"]) == (10.0, "PR", "PR", "none", False, False)
    assert book["best_overall_response"][RECIST] == {
        "confirmed": "SD", "unconfirmed": "PR", "evaluable": True,
        "response_start_on": None, "first_pd_on": None}
    assert book["time_to_event"] == {
        "os": {"days": 43, "event": False, "censor_reason": ALIVE_AT_LAST_CONTACT},
        "pfs": {RECIST: {"days": 43, "event": False, "censor_reason": NO_EVENT_BY_CUTOFF},
                MRECIST: {"days": 43, "event": False, "censor_reason": NO_EVENT_BY_CUTOFF}},
        "dor": {RECIST: None, MRECIST: None},
    }


def test_casebook_of_an_untreated_participant_has_no_times_to_event() -> None:
    p = Participant.enroll("HCC-01-001", entry(story.enrollment()), today=TODAY)
    book = casebook(p)
    assert book["assessments"] == []
    assert book["best_overall_response"][MRECIST]["confirmed"] == "NE"
    assert book["time_to_event"] == {"os": None, "pfs": {RECIST: None, MRECIST: None},
                                     "dor": {RECIST: None, MRECIST: None}}


# -- baseline checks on write -------------------------------------------------------------


def test_a_baseline_with_six_targets_is_refused_naming_each_problem() -> None:
    p = Participant.enroll("HCC-01-001", entry(story.enrollment()), today=TODAY)
    body = story.scan("2026-01-12", baseline=True, recist_mm=[20] * 6, mrecist_mm=[20])
    with pytest.raises(InvalidEntry) as caught:
        record(p, body)
    problems = [(problem.loc, problem.msg) for problem in caught.value.problems]
    assert problems == [
        ("data.reads.RECIST 1.1",
         "RECIST 1.1 baseline has 6 target lesions; at most 5 are allowed"),
        ("data.reads.RECIST 1.1",
         ("RECIST 1.1 baseline has 6 target lesions in liver (T1, T2, T3, T4, T5, T6); "
          "at most 2 per organ are allowed")),
    ]
    assert p.version == 1


def test_a_follow_up_naming_an_unknown_target_is_refused() -> None:
    p = treated(recist=[50])
    with pytest.raises(InvalidEntry, match=r"follow-up target T2 \(liver\) is not a baseline "
                                           r"target \(baseline targets: T1\)") as caught:
        scan(p, week(6), [30, 10], [30])
    assert [problem.loc for problem in caught.value.problems] == ["data.reads.RECIST 1.1"]
    scan(p, week(6), [None], [30])  # a missing measurement is "not assessed", not an error


def test_a_correction_is_checked_like_the_entry_it_corrects() -> None:
    p = Participant.enroll("HCC-01-001", entry(story.enrollment()), today=TODAY)
    baseline = record(p, story.scan("2026-01-12", baseline=True, recist_mm=[50],
                                    mrecist_mm=[50]))
    bad = story.scan("2026-01-12", baseline=True, recist_mm=[8], mrecist_mm=[50])["data"]
    with pytest.raises(InvalidEntry, match="longest diameter of 8.0 mm") as caught:
        record(p, story.correction(baseline.event_id, "2026-01-12", bad))
    assert [problem.loc for problem in caught.value.problems] == ["data.data.reads.RECIST 1.1"]


def test_a_follow_up_before_any_baseline_is_accepted_and_not_evaluated() -> None:
    p = Participant.enroll("HCC-01-001", entry(story.enrollment()), today=TODAY)
    record(p, story.tace(START.isoformat()))
    scan(p, week(6), [30])
    assert participant_outcome(p).by_criterion[RECIST].timepoints == ()


# -- adverse events and study tables ------------------------------------------------------


def test_adverse_event_records_take_the_worst_grade_by_the_cutoff() -> None:
    p = treated(recist=[50])
    record(p, story.adverse_event("AE1", "2026-02-01", term="Hypertension", grade=2))
    record(p, story.ae_update("AE1", "2026-03-01", grade=3))
    record(p, story.ae_update("AE1", "2026-04-01", grade=1))
    record(p, story.ae_update("AE1", "2026-09-01", grade=4))
    record(p, {"type": "DoseModified", "occurred_on": "2026-03-02",
               "data": {"drug": "apatinib", "action": "discontinued", "reason": "toxicity",
                        "adverse_event_id": "AE1"}})
    (ae,) = adverse_event_records(p, date(2026, 8, 1))
    assert (ae.term, ae.worst_grade, ae.serious, ae.led_to_discontinuation) == (
        "Hypertension", 3, False, True)
    assert ae.related_to == frozenset({"apatinib"})
    (later,) = adverse_event_records(p)
    assert later.worst_grade == 4
    (early,) = adverse_event_records(p, date(2026, 3, 1))
    assert (early.worst_grade, early.led_to_discontinuation) == (3, False)


def test_study_tables_leave_out_participants_enrolled_after_the_cutoff() -> None:
    first = treated("HCC-01-001", recist=[50])
    scan(first, week(6), [30])
    scan(first, week(12), [30])
    record(first, story.adverse_event("AE1", "2026-02-01", grade=3))
    late = Participant.enroll("HCC-01-002", entry(story.enrollment(on="2026-05-01")),
                              today=TODAY)
    report = study_endpoints([first, late], MRECIST, date(2026, 4, 30), AS_OF)
    assert report["population"] == {"enrolled": 1, "treated": 1, "evaluable": 1}
    assert report["orr"] == {"responders": 1, "n": 1, "rate": 1.0, "ci95": [0.025, 1.0]}
    assert study_endpoints([first, late], MRECIST, date(2026, 5, 1), AS_OF)[
        "population"]["enrolled"] == 2
    safety = study_safety([first, late], date(2026, 4, 30), AS_OF)
    assert (safety["cutoff"], safety["as_of"], safety["treated"]) == (
        "2026-04-30", "2026-11-25T12:00:00Z", 1)
    assert safety["tables"]["grade_3_or_higher"]["participants"] == 1
    with pytest.raises(ValueError, match="unknown criterion"):
        study_endpoints([first], "RECIST", date(2026, 4, 30), AS_OF)  # type: ignore[arg-type]
