"""The trial plan: every participant's events as they will be submitted, each with the date it
is entered (`today`) and the account that enters it. `plan_trial` is pure: the same number of
participants and seed give the same events, byte for byte in `data`; each participant draws
from their own random stream."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from domain.events import CATALOGUE
from services.seed.data_management import CORRECTION_SHARE, VOID_SHARE, add_correction, add_void
from services.seed.demo_accounts import DATA_MANAGER, coordinator_username
from services.seed.disease import DiseaseCourse
from services.seed.participant import ParticipantBuilder
from services.seed.timeline import Draft
from services.seed.trial_calendar import (
    ENROLLMENT_DAYS,
    SITE_WEIGHTS,
    SITES,
    TRIAL_START,
    days,
    weekday,
)

TYPE_ORDER = {name: rank for rank, name in enumerate((
    "ParticipantEnrolled", "TumorAssessed", "TACEPerformed", "DoseAdministered",
    "AdverseEventReported", "AdverseEventUpdated", "DoseModified", "AdverseEventResolved",
    "AnticancerTherapyStarted", "FollowUpContact", "ParticipantWithdrew", "ParticipantDied",
))}
"""Same-day order: a scan before the treatment it leads to, an AE before the dose change that
names it, a discontinuation before the withdrawal."""


@dataclass(frozen=True)
class PlannedEvent:
    """One event as it will be submitted; `entered_on` is passed as the ledger's `today`.

    For EntryCorrected / EntryVoided, `refers_to` is the `seq` of the corrected or voided
    event of the same participant; its event id is filled in when the plan is recorded."""

    participant_id: str
    seq: int
    type: str
    occurred_on: date
    data: dict[str, Any]
    reason: str | None
    entered_on: date
    actor: str
    refers_to: int | None = None


@dataclass(frozen=True)
class ParticipantPlan:
    participant_id: str
    site_id: str
    course: DiseaseCourse
    progressed_on: date | None
    """The first scan that showed progression under either criterion (a back-dated PD may make
    it earlier)."""
    died_on: date | None
    events: tuple[PlannedEvent, ...]

    def effective_events(self) -> list[PlannedEvent]:
        """Clinical events as the ledger will see them: corrections applied, voids dropped."""
        by_seq = {event.seq: event for event in self.events if event.refers_to is None}
        voided: set[int] = set()
        for event in self.events:
            if event.type == "EntryCorrected" and event.refers_to is not None:
                by_seq[event.refers_to] = replace(by_seq[event.refers_to],
                                                  data=event.data["data"],
                                                  occurred_on=event.occurred_on)
            elif event.type == "EntryVoided" and event.refers_to is not None:
                voided.add(event.refers_to)
        return [event for seq, event in sorted(by_seq.items()) if seq not in voided]


@dataclass(frozen=True)
class TrialPlan:
    participants_requested: int
    seed: int
    participants: tuple[ParticipantPlan, ...]

    def in_entry_order(self) -> list[PlannedEvent]:
        """All events in the order a busy EDC would receive them: by entry date, then site."""
        index = {plan.participant_id: i for i, plan in enumerate(self.participants)}
        events = [event for plan in self.participants for event in plan.events]
        return sorted(events, key=lambda e: (e.entered_on, index[e.participant_id], e.seq))


def plan_trial(*, participants: int, seed: int) -> TrialPlan:
    """The whole synthetic trial as planned events; pure and deterministic in (participants,
    seed). Each participant draws from their own random stream."""
    if participants < 1:
        raise ValueError("participants must be at least 1")
    trial_rng = random.Random(f"trial-ledger seed {seed}")
    offsets = sorted(trial_rng.randrange(ENROLLMENT_DAYS) for _ in range(participants))
    sites = [trial_rng.choices(SITES, weights=SITE_WEIGHTS)[0] for _ in range(participants)]
    corrected = set(trial_rng.sample(range(participants),
                                     max(1, round(participants * CORRECTION_SHARE))))
    voided = set(trial_rng.sample(range(participants), max(1, round(participants * VOID_SHARE))))
    numbers: Counter[str] = Counter()
    plans = []
    for index in range(participants):
        site = sites[index]
        numbers[site] += 1
        participant_id = f"HCC-{site[1:]}-{numbers[site]:03d}"
        rng = random.Random(f"trial-ledger seed {seed} participant {index}")
        enrolled_on = weekday(TRIAL_START + days(offsets[index]))
        builder = ParticipantBuilder(rng, participant_id, site, enrolled_on)
        drafts = builder.build()
        if index in corrected:
            add_correction(rng, drafts)
        if index in voided:
            add_void(rng, drafts, len(builder.adverse_events.episodes))
        plans.append(ParticipantPlan(participant_id, site, builder.course,
                                     builder.scans.first_progressed_on,
                                     builder.timeline.died_on,
                                     _finalise(participant_id, site, drafts)))
    return TrialPlan(participants, seed, tuple(plans))


def _finalise(participant_id: str, site_id: str, drafts: list[Draft]
              ) -> tuple[PlannedEvent, ...]:
    """Order the drafts as they would be entered and give each its entry date (`today`)."""
    clinical = [d for d in drafts if d.refers_to is None]
    admin = [d for d in drafts if d.refers_to is not None]
    order = sorted(range(len(clinical)), key=lambda i: (
        clinical[i].anchor or clinical[i].occurred_on, TYPE_ORDER[clinical[i].type], i))
    site_user = coordinator_username(site_id)
    planned: list[PlannedEvent] = []
    seq_of: dict[int, int] = {}
    entered: dict[int, date] = {}
    latest = date.min
    for seq, i in enumerate(order, start=1):
        draft = clinical[i]
        latest = max(latest, (draft.anchor or draft.occurred_on) + days(draft.entry_lag))
        seq_of[id(draft)] = seq
        entered[id(draft)] = latest
        planned.append(_planned(participant_id, seq, draft, latest, site_user, None))
    for seq, draft in enumerate(admin, start=len(clinical) + 1):
        assert draft.refers_to is not None
        target = draft.refers_to
        on = entered[id(target)] + days(draft.entry_lag)
        user = DATA_MANAGER if draft.by_data_manager else site_user
        if draft.type == "EntryCorrected":
            schema = CATALOGUE[target.type].payload
            draft.data = {**draft.data,
                          "data": schema.model_validate(draft.data["data"]).model_dump(mode="json")}
        planned.append(_planned(participant_id, seq, draft, on, user, seq_of[id(target)]))
    return tuple(planned)


def _planned(participant_id: str, seq: int, draft: Draft, entered_on: date, actor: str,
             refers_to: int | None) -> PlannedEvent:
    payload = CATALOGUE[draft.type].payload
    data = draft.data
    if refers_to is None:
        data = payload.model_validate(data).model_dump(mode="json")
    return PlannedEvent(participant_id, seq, draft.type, draft.occurred_on, data, draft.reason,
                        entered_on, actor, refers_to)
