"""Where a participant stands against the protocol's schedule (domain.schedule) on a clinical
date `on`, and the per-site report of what is overdue or missed.

Only entries dated on or before `on` count: the question is what a monitor could have known
on that day, from what was recorded by the time asked (the caller folds the participant as of
a recorded time). Each expected visit is `done` (an entry matched it), or, not done, one of:
`expected` (its window opens after `on`), `due` (the window is open), `overdue` (the window
closed, the grace period has not) or `missed`. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from domain.casebook import treatment_start_on
from domain.entries import Entry, ParticipantHistory
from domain.events import (
    DoseAdministeredData,
    DoseModifiedData,
    ParticipantWithdrewData,
    TumorAssessedData,
)
from domain.participant_outcome import participant_outcome
from domain.protocol import CRITERIA, STUDY_DRUGS
from domain.response import Response
from domain.schedule import SCHEDULE, Activity, Stop

Status = Literal["expected", "due", "overdue", "missed", "done"]
STATUSES: tuple[Status, ...] = ("expected", "due", "overdue", "missed", "done")
GAPS: tuple[Status, ...] = ("overdue", "missed")
"""What the missing-data report counts."""


@dataclass(frozen=True)
class Match:
    """The entry that did a visit; `on_time` when it is dated within the visit's window."""

    event_id: str
    occurred_on: date
    on_time: bool


@dataclass(frozen=True)
class Visit:
    number: int
    target_on: date
    opens_on: date
    closes_on: date
    last_on: date
    """The last day it may still be done: the end of the grace period, or the activity's stop."""
    status: Status
    matched: Match | None


@dataclass(frozen=True)
class ActivityPlan:
    """One activity of the schedule for one participant."""

    activity: Activity
    anchor_on: date | None
    """Visit 0's day counts from here; None: nothing of this activity is expected yet."""
    stopped_on: date | None
    stopped_by: Stop | None
    visits: tuple[Visit, ...]

    def numbers(self, status: Status) -> tuple[int, ...]:
        return tuple(v.number for v in self.visits if v.status == status)


@dataclass(frozen=True)
class ParticipantSchedule:
    participant_id: str
    on: date
    treatment_start_on: date | None
    progression_on: date | None
    plans: tuple[ActivityPlan, ...]


@dataclass(frozen=True)
class Milestones:
    """The dates the schedule counts from and stops at, as known on `on`."""

    treatment_start_on: date | None
    first_dose_on: dict[str, date]
    progression_on: date | None
    withdrew_on: date | None
    follow_up_allowed: bool
    died_on: date | None
    discontinued_on: dict[str, date]
    other_therapy_on: date | None
    pauses: dict[str, list[tuple[date, date | None]]]

    def anchor(self, activity: Activity) -> date | None:
        if activity.anchor == "treatment_start":
            return self.treatment_start_on
        if activity.anchor == "first_dose":
            first = self.first_dose_on.get(activity.drug or "")
            return first if first is not None else self.treatment_start_on
        all_stopped = (max(self.discontinued_on.values())
                       if set(self.discontinued_on) >= set(STUDY_DRUGS) else None)
        ends = [self.progression_on, all_stopped, self.other_therapy_on,
                self.withdrew_on if self.follow_up_allowed else None]
        return min((d for d in ends if d is not None), default=None)

    def stop(self, activity: Activity) -> tuple[date, Stop] | None:
        dates: dict[Stop, date | None] = {
            "progression": self.progression_on, "withdrawal": self.withdrew_on,
            "death": self.died_on,
            "discontinuation": self.discontinued_on.get(activity.drug or ""),
            "consent_withdrawn": None if self.follow_up_allowed else self.withdrew_on,
        }
        found = [(on, why) for why in activity.stops if (on := dates[why]) is not None]
        return min(found, default=None)


def _first_pd_on(participant: ParticipantHistory, on: date) -> date | None:
    """The first PD read on or before `on` under either criterion."""
    outcome = participant_outcome(participant, on)
    reads = [tp.on for c in CRITERIA for tp in outcome.by_criterion[c].timepoints
             if tp.overall is Response.PD]
    return min(reads, default=None)


def milestones(participant: ParticipantHistory, on: date) -> Milestones:
    """The dates the schedule reads, from the effective entries dated on or before `on`."""
    entries = [e for e in participant.effective_entries() if e.occurred_on <= on]

    def first(kind: str) -> Entry | None:
        return min((e for e in entries if e.type == kind), key=lambda e: e.occurred_on,
                   default=None)

    by_date = sorted(entries, key=lambda e: (e.occurred_on, e.version))
    changes = [e for e in by_date if e.type == "DoseModified"]
    first_dose: dict[str, date] = {}
    stopped: dict[str, date] = {}
    for e in by_date:
        payload = e.payload
        if isinstance(payload, DoseAdministeredData):
            first_dose.setdefault(payload.drug, e.occurred_on)
        elif isinstance(payload, DoseModifiedData) and payload.action == "discontinued":
            stopped.setdefault(payload.drug, e.occurred_on)
    withdrew, died, therapy = (first("ParticipantWithdrew"), first("ParticipantDied"),
                               first("AnticancerTherapyStarted"))
    start = treatment_start_on(participant)
    return Milestones(
        treatment_start_on=start if start is not None and start <= on else None,
        first_dose_on=first_dose, progression_on=_first_pd_on(participant, on),
        withdrew_on=withdrew.occurred_on if withdrew else None,
        follow_up_allowed=(withdrew.payload_as(ParticipantWithdrewData).follow_up_allowed
                           if withdrew else True),
        died_on=died.occurred_on if died else None, discontinued_on=stopped,
        other_therapy_on=therapy.occurred_on if therapy else None,
        pauses={drug: _pauses(changes, drug) for drug in STUDY_DRUGS},
    )


def _pauses(changes: Sequence[Entry], drug: str) -> list[tuple[date, date | None]]:
    """Interruptions of `drug`, each until it resumed (None: not yet)."""
    found: list[tuple[date, date | None]] = []
    since: date | None = None
    for change in changes:
        modified = change.payload_as(DoseModifiedData)
        if modified.drug != drug:
            continue
        if modified.action == "interrupted" and since is None:
            since = change.occurred_on
        elif modified.action == "resumed" and since is not None:
            found.append((since, change.occurred_on))
            since = None
    return found + ([(since, None)] if since is not None else [])


def _counts_for(activity: Activity, entry: Entry) -> bool:
    if entry.type != activity.entry_type:
        return False
    payload = entry.payload
    if activity.drug is not None and not (
            isinstance(payload, DoseAdministeredData | DoseModifiedData)
            and payload.drug == activity.drug):
        return False
    return not (activity.follow_ups_only and isinstance(payload, TumorAssessedData)
                and payload.baseline)


def _match(activity: Activity, candidates: Sequence[Entry], used: set[str], target: date,
           opens: date, closes: date, on: date) -> Match | None:
    if activity.covers:  # a dosing period (cut at `on`) overlapping the window
        for entry in candidates:
            dose = entry.payload_as(DoseAdministeredData)
            end = min(dose.end_on or entry.occurred_on, on)
            if entry.occurred_on <= closes and end >= opens:
                return Match(entry.event_id, entry.occurred_on, True)
        return None
    last = closes + timedelta(days=activity.grace_days)
    fitting = [e for e in candidates if e.event_id not in used and opens <= e.occurred_on <= last]
    if not fitting:
        return None
    best = min(fitting, key=lambda e: (abs((e.occurred_on - target).days), e.occurred_on))
    used.add(best.event_id)
    return Match(best.event_id, best.occurred_on, best.occurred_on <= closes)


def _status(on: date, opens: date, closes: date, last: date) -> Status:
    if on > last:
        return "missed"
    if on < opens:
        return "expected"
    return "due" if on <= closes else "overdue"


def plan(activity: Activity, marks: Milestones, entries: Sequence[Entry], on: date
         ) -> ActivityPlan:
    """The activity's visits whose window opened by `on`, and the next one (`expected`)
    unless the activity stopped before it."""
    anchor = marks.anchor(activity)
    stop = marks.stop(activity)
    stop_on = stop[0] if stop else None
    if anchor is None:
        return ActivityPlan(activity, None, stop_on, stop[1] if stop else None, ())
    candidates = sorted((e for e in entries if _counts_for(activity, e)),
                        key=lambda e: (e.occurred_on, e.version))
    pauses = marks.pauses.get(activity.drug or "", [])
    used: set[str] = set()
    visits: list[Visit] = []
    number = activity.first_visit
    while True:
        target = anchor + timedelta(days=number * activity.interval_days)
        opens = target - timedelta(days=activity.window_before)
        closes = target + timedelta(days=activity.window_after)
        last = closes + timedelta(days=activity.grace_days)
        if stop_on is not None:
            last = min(last, max(stop_on, opens))
        matched = _match(activity, candidates, used, target, opens, closes, on)
        after_stop = stop_on is not None and target > stop_on
        paused = any(begin <= target and (end is None or target < end) for begin, end in pauses)
        if matched is not None:
            visits.append(Visit(number, target, opens, closes, last, "done", matched))
        elif not after_stop and not paused:
            visits.append(Visit(number, target, opens, closes, last,
                                _status(on, opens, closes, last), None))
        if after_stop or opens > on:
            break
        number += 1
    return ActivityPlan(activity, anchor, stop_on, stop[1] if stop else None, tuple(visits))


def participant_schedule(participant: ParticipantHistory, on: date,
                         schedule: Sequence[Activity] = SCHEDULE) -> ParticipantSchedule:
    """Every activity of the schedule for one participant, on the clinical date `on`."""
    marks = milestones(participant, on)
    entries = [e for e in participant.effective_entries() if e.occurred_on <= on]
    return ParticipantSchedule(
        participant_id=participant.id, on=on, treatment_start_on=marks.treatment_start_on,
        progression_on=marks.progression_on,
        plans=tuple(plan(activity, marks, entries, on) for activity in schedule),
    )


@dataclass(frozen=True)
class ParticipantGaps:
    participant_id: str
    overdue: tuple[int, ...]
    """Visit numbers."""
    missed: tuple[int, ...]


@dataclass(frozen=True)
class ActivityGaps:
    activity: Activity
    overdue: int
    missed: int
    participants: tuple[ParticipantGaps, ...]


@dataclass(frozen=True)
class SiteGaps:
    site_id: str
    participants: int
    activities: tuple[ActivityGaps, ...]


def missing_data(schedules: Iterable[tuple[str, ParticipantSchedule]],
                 schedule: Sequence[Activity] = SCHEDULE) -> tuple[SiteGaps, ...]:
    """Per site (sorted), per activity: how many visits are overdue and missed, and which
    participants have them (in id order); `schedules` pairs each schedule with its site."""
    by_site: dict[str, list[ParticipantSchedule]] = {}
    for site_id, found in schedules:
        by_site.setdefault(site_id, []).append(found)
    report = []
    for site_id in sorted(by_site):
        people = sorted(by_site[site_id], key=lambda s: s.participant_id)
        activities = []
        for index, activity in enumerate(schedule):
            gaps = [ParticipantGaps(p.participant_id, p.plans[index].numbers("overdue"),
                                    p.plans[index].numbers("missed")) for p in people]
            gaps = [g for g in gaps if g.overdue or g.missed]
            activities.append(ActivityGaps(activity, sum(len(g.overdue) for g in gaps),
                                           sum(len(g.missed) for g in gaps), tuple(gaps)))
        report.append(SiteGaps(site_id, len(people), tuple(activities)))
    return tuple(report)
