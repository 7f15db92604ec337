"""Response models of the schedule reads: one participant's visits against the protocol's
schedule, and the per-site missing-data report (docs/monitoring/schedule.md)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from services.api.casebook_schemas import Answer, RecordedAt
from services.api.study_schemas import ScopedAnswer

VisitStatus = Literal["expected", "due", "overdue", "missed", "done"]
ActivityKey = Literal["tumour_assessment", "camrelizumab", "apatinib", "follow_up"]


class MatchOut(Answer):
    event_id: str = Field(description="The entry that did the visit.")
    occurred_on: date
    on_time: bool = Field(description="Dated within the visit's window (false: in its grace "
                                      "period, late).")


class VisitOut(Answer):
    number: int = Field(description="Visit number: the cycle (from 0) or the visit (from 1).")
    target_on: date = Field(description="The visit's day: anchor + number x interval.")
    opens_on: date
    closes_on: date
    last_on: date = Field(description="The last day it may still be done: the end of the "
                                      "grace period, or the day the activity stopped.")
    status: VisitStatus
    matched: MatchOut | None


class StatusCounts(Answer):
    expected: int
    due: int
    overdue: int
    missed: int
    done: int


class ActivityOut(Answer):
    activity: ActivityKey
    title: str
    entry_type: str = Field(description="The entry that does a visit of this activity.")
    interval_days: int
    window_before_days: int
    window_after_days: int
    grace_days: int
    anchor_on: date | None = Field(description="Visits count from this day; null: nothing of "
                                               "this activity is expected yet.")
    stopped_on: date | None
    stopped_by: str | None = Field(description="progression, withdrawal, death, "
                                               "discontinuation or consent_withdrawn.")
    counts: StatusCounts
    visits: list[VisitOut]


class ParticipantScheduleOut(Answer):
    participant_id: str
    site_id: str
    on: date = Field(description="The clinical date the statuses are given for.")
    as_of: RecordedAt | None = Field(description="The recorded time asked for; null: now.")
    treatment_start_on: date | None
    progression_on: date | None = Field(description="The first PD read under either "
                                                    "criterion, on or before `on`.")
    activities: list[ActivityOut]


class ParticipantGapsOut(Answer):
    participant_id: str
    overdue: list[int] = Field(description="Numbers of the visits overdue.")
    missed: list[int] = Field(description="Numbers of the visits missed.")


class ActivityGapsOut(Answer):
    activity: ActivityKey
    title: str
    overdue: int
    missed: int
    participants: list[ParticipantGapsOut]


class SiteGapsOut(Answer):
    site_id: str
    participants: int = Field(description="Participants of this site the report covers.")
    activities: list[ActivityGapsOut]


class MissingDataOut(ScopedAnswer):
    on: date
    site_id: str | None = Field(description="The site asked for; null: every site you may read.")
    sites: list[SiteGapsOut]
