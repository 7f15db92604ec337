"""Schedule reads for monitoring: one participant's visits against the protocol's schedule,
and the per-site report of overdue and missed visits (docs/monitoring/schedule.md).

Two times: `on` is the clinical date the statuses are given for (entries dated after it have
not happened yet); `as_of` is the recorded time the participants are folded at (what had been
entered by then). `on` defaults to the date of as_of, which is today when as_of is not given.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from domain.errors import FieldProblem, InvalidEntry
from domain.protocol import STUDY_START
from domain.values import today
from domain.visits import STATUSES, ActivityPlan, SiteGaps, missing_data, participant_schedule
from infra.ledger.chain import parse_recorded_at
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.api.responses import PARTICIPANT_404
from services.api.routes.audit import SITE_ID
from services.api.routes.participants import ParticipantId, _readable
from services.api.schedule_schemas import MissingDataOut, ParticipantScheduleOut
from services.api.scope import empty_state, readable_sites, scope, visible_participants, where

router = APIRouter(prefix="/api/v1", tags=["schedule"])

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_DAYS_AHEAD = 366
"""How far past today `on` may be: far enough to plan a year of visits, and a bound on how
many visits one answer lists."""


def parse_on(on: Annotated[str | None, Query(
        max_length=32, examples=["2026-06-30"],
        description="Clinical date (YYYY-MM-DD) the statuses are given for: entries dated "
                    "after it have not happened yet. Default: the date of as_of (today)."),
                 ] = None) -> date | None:
    """A real calendar date from the study's start to a year from today; 422 otherwise."""
    if on is None:
        return None
    try:
        if not ISO_DATE.fullmatch(on):
            raise ValueError
        day = date.fromisoformat(on)
    except ValueError:
        raise _bad_on(f"{on!r} is not a date: give YYYY-MM-DD") from None
    latest = today() + timedelta(days=MAX_DAYS_AHEAD)
    if not STUDY_START <= day <= latest:
        raise _bad_on(f"{on} is outside the study: give a date from {STUDY_START} to "
                      f"{latest} (a year from today)")
    return day


def _bad_on(message: str) -> InvalidEntry:
    return InvalidEntry(f"on: {message}", [FieldProblem("query.on", message)])


OnDep = Annotated[date | None, Depends(parse_on)]
SiteQuery = Annotated[str | None, Query(
    pattern=SITE_ID, examples=["S01"],
    description="Only this site (one you may read; any other answers as a site with no "
                "participants).")]


def _clinical_day(on: date | None, as_of: str | None) -> date:
    """`on`, else the date of as_of (a later as_of than now reads as now), else today."""
    if on is not None:
        return on
    return min(parse_recorded_at(as_of).date(), today()) if as_of is not None else today()


@router.get("/participants/{participant_id}/schedule", response_model=ParticipantScheduleOut,
            responses=PARTICIPANT_404)
def read_schedule(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                  on: OnDep = None, as_of: AsOfDep = None) -> dict[str, Any]:
    """Every activity of the protocol's schedule for one participant on the clinical date
    `on`: each visit expected so far and the next one, with its window and status (expected,
    due, overdue, missed or done) and the entry that did it."""
    participant = _readable(ledger, actor, participant_id, as_of)
    found = participant_schedule(participant, _clinical_day(on, as_of))
    return {"participant_id": participant.id, "site_id": participant.site_id,
            "on": found.on, "as_of": as_of, "treatment_start_on": found.treatment_start_on,
            "progression_on": found.progression_on,
            "activities": [_plan_view(plan) for plan in found.plans]}


def _plan_view(plan: ActivityPlan) -> dict[str, Any]:
    activity = plan.activity
    return {
        "activity": activity.key, "title": activity.title, "entry_type": activity.entry_type,
        "interval_days": activity.interval_days, "window_before_days": activity.window_before,
        "window_after_days": activity.window_after, "grace_days": activity.grace_days,
        "anchor_on": plan.anchor_on, "stopped_on": plan.stopped_on,
        "stopped_by": plan.stopped_by,
        "counts": {status: len(plan.numbers(status)) for status in STATUSES},
        "visits": [{"number": v.number, "target_on": v.target_on, "opens_on": v.opens_on,
                    "closes_on": v.closes_on, "last_on": v.last_on, "status": v.status,
                    "matched": None if v.matched is None else {
                        "event_id": v.matched.event_id,
                        "occurred_on": v.matched.occurred_on,
                        "on_time": v.matched.on_time}}
                   for v in plan.visits],
    }


@router.get("/schedule/missing-data", response_model=MissingDataOut)
def read_missing_data(request: Request, ledger: LedgerDep, actor: ActorDep,
                      on: OnDep = None, as_of: AsOfDep = None, site_id: SiteQuery = None
                      ) -> dict[str, Any]:
    """Per site and per activity: how many visits are overdue and missed on the clinical date
    `on`, and which participants have them, over the participants enrolled as of as_of at
    the sites you may read (`scope`)."""
    sites = readable_sites(actor)
    day = _clinical_day(on, as_of)
    enrolled = visible_participants(ledger, sites, as_of)
    chosen = [p for p in enrolled if site_id is None or p.site_id == site_id]
    report = missing_data((p.site_id, participant_schedule(p, day)) for p in chosen)
    which = f"those at site {site_id}"
    return {"on": day, "site_id": site_id, "sites": [_site_view(s) for s in report],
            "scope": scope(sites, enrolled=len(enrolled), covered=len(chosen), as_of=as_of,
                           cutoff=day, which=which),
            **empty_state(request.app.state.engine, as_of, bool(chosen),
                          f"no participant is enrolled at {where(sites)}" if site_id is None
                          else f"no participant is enrolled at site {site_id} among "
                               f"{where(sites)}")}


def _site_view(found: SiteGaps) -> dict[str, Any]:
    return {"site_id": found.site_id, "participants": found.participants, "activities": [
        {"activity": gaps.activity.key, "title": gaps.activity.title,
         "overdue": gaps.overdue, "missed": gaps.missed,
         "participants": [{"participant_id": p.participant_id, "overdue": list(p.overdue),
                           "missed": list(p.missed)} for p in gaps.participants]}
        for gaps in found.activities]}

