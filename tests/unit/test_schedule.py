"""The visit schedule against participants' stories, worked by hand (no store).

Every story: enrolled 2026-01-10, baseline scan 2026-01-12, TACE and the first camrelizumab
infusion on day 0 = 2026-01-14 (the treatment start). Scans are expected on days 42, 84, 126
... (+/- 7 days, overdue until the day before the next window opens: day 42 + 7 + 27 = 76).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from domain.analysis import time_to_event
from domain.participant import Participant
from domain.protocol import MISSED_ASSESSMENTS
from domain.schedule import (
    APATINIB_DOSING,
    CAMRELIZUMAB_CYCLES,
    FOLLOW_UP,
    IMAGING,
    MISSED_GAP_DAYS,
    SCHEDULE,
)
from domain.visits import ActivityPlan, missing_data, participant_schedule
from tests import story
from tests.unit.test_outcomes import TODAY, entry, record

START = date(2026, 1, 14)


def day(n: int) -> date:
    return START + timedelta(days=n)


def iso(n: int) -> str:
    return day(n).isoformat()


def treated(pid: str = "HCC-01-001", site_id: str = "S01") -> Participant:
    p = Participant.enroll(pid, entry(story.enrollment(site_id=site_id)), today=TODAY)
    record(p, story.scan("2026-01-12", baseline=True, recist_mm=[50], mrecist_mm=[50]))
    record(p, story.tace(iso(0)))
    record(p, story.camrelizumab(iso(0)))
    return p


def scan(p: Participant, n: int, mm: float = 40) -> None:
    record(p, story.scan(iso(n), baseline=False, recist_mm=[mm], mrecist_mm=[mm]))


def modified(p: Participant, n: int, drug: str, action: str) -> None:
    record(p, {"type": "DoseModified", "occurred_on": iso(n),
               "data": {"drug": drug, "action": action, "reason": "toxicity"}})


def plan_of(p: Participant, on: int, key: str) -> ActivityPlan:
    return next(a for a in participant_schedule(p, day(on)).plans if a.activity.key == key)


def statuses(p: Participant, on: int, key: str = "tumour_assessment") -> list[tuple[int, str]]:
    return [(v.number, v.status) for v in plan_of(p, on, key).visits]


# -- the schedule as data ------------------------------------------------------------------


def test_the_pfs_rule_reads_its_gap_from_the_imaging_schedule() -> None:
    assert MISSED_GAP_DAYS == IMAGING.gap_after_missed(MISSED_ASSESSMENTS) == 2 * 42 + 14 == 98
    assert getattr(time_to_event, "MISSED_GAP_DAYS") is MISSED_GAP_DAYS  # noqa: B009
    eight_weekly = replace(IMAGING, interval_days=56)
    assert eight_weekly.gap_after_missed(MISSED_ASSESSMENTS) == 2 * 56 + 14


def test_pd_exactly_the_schedules_gap_after_the_last_read_is_an_event_one_day_more_is_not(
        ) -> None:
    read = time_to_event.AdequateRead(day(42), False)
    for gap, event in ((MISSED_GAP_DAYS, True), (MISSED_GAP_DAYS + 1, False)):
        pd = time_to_event.AdequateRead(day(42 + gap), True)
        outcomes = time_to_event.ParticipantOutcomes(START, (read, pd))
        pfs = time_to_event.progression_free_survival(outcomes, day(400))
        assert pfs is not None and pfs.event is event
        if not event:
            assert pfs.censor_reason == time_to_event.TWO_MISSED_ASSESSMENTS


def test_each_activitys_slots_tile_the_time_between_its_visits() -> None:
    for activity in (IMAGING, CAMRELIZUMAB_CYCLES, FOLLOW_UP):
        slot = activity.window_before + activity.window_after + activity.grace_days + 1
        assert slot == activity.interval_days, activity.key
    apatinib = APATINIB_DOSING  # its window is the cycle itself; its record may come late
    assert apatinib.covers and apatinib.window_days + 1 == apatinib.interval_days
    assert [a.key for a in SCHEDULE] == ["tumour_assessment", "camrelizumab", "apatinib",
                                         "follow_up"]


# -- imaging -------------------------------------------------------------------------------


def test_a_scan_in_its_window_is_done_and_a_skipped_one_goes_due_overdue_missed() -> None:
    p = treated()
    scan(p, 42)
    assert statuses(p, 30) == [(1, "expected")]
    assert statuses(p, 36) == [(1, "due"), (2, "expected")]  # window 35..49
    assert statuses(p, 50) == [(1, "done"), (2, "expected")]
    assert statuses(p, 78) == [(1, "done"), (2, "due"), (3, "expected")]  # window 77..91
    assert statuses(p, 92) == [(1, "done"), (2, "overdue"), (3, "expected")]  # grace 92..118
    assert statuses(p, 118) == [(1, "done"), (2, "overdue"), (3, "expected")]
    assert statuses(p, 119) == [(1, "done"), (2, "missed"), (3, "due"), (4, "expected")]
    first = plan_of(p, 50, "tumour_assessment").visits[0]
    assert first.target_on == day(42) and first.matched is not None
    assert first.matched.occurred_on == day(42) and first.matched.on_time


def test_a_scan_dated_after_the_clinical_date_does_not_count_yet() -> None:
    p = treated()
    scan(p, 44)
    assert statuses(p, 43) == [(1, "due"), (2, "expected")]
    assert statuses(p, 44) == [(1, "done"), (2, "expected")]


def test_a_late_scan_does_its_own_visit_not_the_next_one() -> None:
    p = treated()
    scan(p, 60)  # after the window (35..49), within the grace period
    visits = plan_of(p, 80, "tumour_assessment").visits
    assert [(v.number, v.status) for v in visits] == [(1, "done"), (2, "due"), (3, "expected")]
    assert visits[0].matched is not None and not visits[0].matched.on_time


def test_progression_ends_imaging_and_starts_survival_follow_up() -> None:
    p = treated()
    scan(p, 42, 30)     # PR
    scan(p, 84, 60)     # PD: 60 >= 1.2 x 30 and +30 mm
    assert statuses(p, 200) == [(1, "done"), (2, "done")]
    follow = plan_of(p, 200, "follow_up")
    assert follow.anchor_on == day(84)
    assert [(v.number, v.target_on, v.status) for v in follow.visits] == [
        (1, day(168), "overdue"), (2, day(252), "expected")]
    record(p, story.follow_up(iso(170)))
    assert statuses(p, 200, "follow_up") == [(1, "done"), (2, "expected")]
    record(p, story.death(iso(230)))
    assert statuses(p, 300, "follow_up") == [(1, "done")]
    assert plan_of(p, 300, "follow_up").stopped_by == "death"


def test_a_death_after_a_visits_day_makes_it_missed_at_once_and_ends_the_visits() -> None:
    p = treated()
    record(p, story.death(iso(45)))  # visit 1: day 42, window 35..49
    assert statuses(p, 45) == [(1, "due")]
    assert statuses(p, 46) == [(1, "missed")]
    assert plan_of(p, 46, "tumour_assessment").stopped_by == "death"


def test_a_death_before_a_visits_day_leaves_that_visit_unexpected() -> None:
    p = treated()
    record(p, story.death(iso(38)))
    assert statuses(p, 37) == [(1, "due"), (2, "expected")]
    assert statuses(p, 38) == []


def test_a_withdrawal_without_follow_up_leaves_nothing_expected_after_it() -> None:
    p = treated()
    record(p, {"type": "ParticipantWithdrew", "occurred_on": iso(20),
               "data": {"reason": "moved abroad", "follow_up_allowed": False}})
    assert statuses(p, 200) == []
    assert statuses(p, 200, "camrelizumab") == [(0, "done")]
    assert plan_of(p, 200, "follow_up").visits == ()


def test_an_untreated_participant_has_nothing_expected() -> None:
    p = Participant.enroll("HCC-01-009", entry(story.enrollment()), today=TODAY)
    assert all(a.visits == () for a in participant_schedule(p, day(300)).plans)


# -- study drugs ---------------------------------------------------------------------------


def test_camrelizumab_cycles_stop_at_discontinuation_and_pause_while_interrupted() -> None:
    p = treated()
    record(p, story.camrelizumab(iso(22), cycle=2))
    assert statuses(p, 40, "camrelizumab") == [(0, "done"), (1, "done"), (2, "due"),
                                               (3, "expected")]
    modified(p, 41, "camrelizumab", "interrupted")
    modified(p, 70, "camrelizumab", "resumed")
    assert statuses(p, 70, "camrelizumab") == [(0, "done"), (1, "done"), (4, "expected")]
    modified(p, 80, "camrelizumab", "discontinued")
    assert statuses(p, 150, "camrelizumab") == [(0, "done"), (1, "done")]


def test_a_cycle_not_given_before_discontinuation_is_missed_once_it_stopped() -> None:
    p = treated()
    modified(p, 30, "camrelizumab", "discontinued")
    assert statuses(p, 25, "camrelizumab") == [(0, "done"), (1, "overdue"), (2, "expected")]
    assert statuses(p, 30, "camrelizumab") == [(0, "done"), (1, "overdue")]
    assert statuses(p, 31, "camrelizumab") == [(0, "done"), (1, "missed")]


def test_one_apatinib_record_covers_every_cycle_its_period_overlaps() -> None:
    p = treated()
    record(p, story.apatinib(iso(0), iso(41)))
    assert statuses(p, 50, "apatinib") == [(0, "done"), (1, "done"), (2, "due"), (3, "expected")]
    assert statuses(p, 70, "apatinib") == [(0, "done"), (1, "done"), (2, "overdue"),
                                           (3, "due"), (4, "expected")]
    assert statuses(p, 84, "apatinib")[2] == (2, "missed")
    # Seen on day 10, the period is cut there: cycle 1 (days 21..41) is not done yet.
    assert statuses(p, 10, "apatinib") == [(0, "done"), (1, "expected")]


# -- the missing-data report ---------------------------------------------------------------


def test_the_missing_data_report_counts_gaps_per_site_and_activity() -> None:
    on_time, skipped, elsewhere = treated("HCC-01-001"), treated("HCC-01-002"), treated(
        "HCC-02-001", "S02")
    scan(on_time, 42)
    scan(on_time, 84)
    found: list[tuple[str, Any]] = [(p.site_id, participant_schedule(p, day(100)))
                                    for p in (on_time, skipped, elsewhere)]
    report = missing_data(found)
    assert [(s.site_id, s.participants) for s in report] == [("S01", 2), ("S02", 1)]
    imaging = report[0].activities[0]
    assert imaging.activity is IMAGING
    assert (imaging.overdue, imaging.missed) == (1, 1)
    assert [(g.participant_id, g.overdue, g.missed) for g in imaging.participants] == [
        ("HCC-01-002", (2,), (1,))]
    assert [g.participant_id for g in report[1].activities[0].participants] == ["HCC-02-001"]
