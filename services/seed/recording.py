"""Recording the plan through the application layer: `seed_trial` submits every planned event
with `TrialLedger.record_participant_event`, in entry order, so every rule is enforced and every
event is hash-chained; a rule violation while seeding is a bug in the generator, never
something to skip. `fold_plan` folds a plan in memory instead, for benchmarks and statistics
tests."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from domain.events import CATALOGUE
from domain.participant import NewEntry, Participant
from services.application import Submission, TrialLedger
from services.seed.demo_accounts import DEMO_ACCOUNTS, ensure_demo_accounts
from services.seed.plan import PlannedEvent, TrialPlan, plan_trial
from services.seed.trial_calendar import DATA_CUTOFF


@dataclass(frozen=True)
class SeedSummary:
    """What `seed_trial` recorded."""

    seed: int
    participants: int
    events: int
    accounts_created: tuple[str, ...]
    deaths: int
    withdrawals: int
    progressions: int
    adverse_events: int
    corrections: int
    voids: int
    first_enrolled_on: date
    last_event_on: date
    data_cutoff: date = DATA_CUTOFF
    events_by_type: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [
            f"seeded {self.participants} participants (seed {self.seed}): {self.events} events",
            (f"first enrolled {self.first_enrolled_on}; last event {self.last_event_on}; "
             f"data cutoff {self.data_cutoff}"),
            (f"{self.progressions} progressed, {self.deaths} died, {self.withdrawals} withdrew; "
             f"{self.adverse_events} adverse events; {self.corrections} corrections, "
             f"{self.voids} voids"),
        ]


class StoreNotEmpty(Exception):
    """Seeding needs a store without participants: the plan's ids would collide."""


def seed_trial(ledger: TrialLedger, *, participants: int, seed: int,
               progress: Callable[[int, int], None] | None = None) -> SeedSummary:
    """Record a synthetic trial through `record_participant_event`, in entry order.

    `progress(recorded, total)` is called once before the first event and after each one."""
    existing = ledger.participant_ids()
    if existing:
        raise StoreNotEmpty(
            f"the store already has {len(existing)} participants; seed into an empty store "
            "(a new TRIAL_LEDGER_DATABASE_URL)"
        )
    plan = plan_trial(participants=participants, seed=seed)
    created = ensure_demo_accounts(ledger)
    actors = {account.username: account.actor for account in DEMO_ACCOUNTS}
    event_ids: dict[tuple[str, int], str] = {}
    ordered = plan.in_entry_order()
    if progress is not None:
        progress(0, len(ordered))
    for done, event in enumerate(ordered, start=1):
        recorded, _ = ledger.record_participant_event(
            event.participant_id, submission_for(event, event_ids), actors[event.actor],
            request_id=f"seed-{seed}-{event.participant_id}-{event.seq}", today=event.entered_on,
        )
        event_ids[(event.participant_id, event.seq)] = recorded.event_id
        if progress is not None:
            progress(done, len(ordered))
    return _summary(plan, created)


def submission_for(event: PlannedEvent, event_ids: dict[tuple[str, int], str]) -> Submission:
    """The application-layer request for a planned event, with references resolved."""
    data = event.data
    if event.refers_to is not None:
        target = event_ids[(event.participant_id, event.refers_to)]
        key = "corrects" if event.type == "EntryCorrected" else "voids"
        data = {**data, key: target}
    payload = CATALOGUE[event.type].payload.model_validate(data)
    return Submission(event.type, event.occurred_on, payload, event.reason)


def _summary(plan: TrialPlan, created: list[str]) -> SeedSummary:
    events = [e for p in plan.participants for e in p.events]
    by_type = Counter(e.type for e in events)
    effective = [e for p in plan.participants for e in p.effective_events()]
    return SeedSummary(
        seed=plan.seed,
        participants=len(plan.participants),
        events=len(events),
        accounts_created=tuple(created),
        deaths=by_type["ParticipantDied"],
        withdrawals=by_type["ParticipantWithdrew"],
        progressions=sum(1 for p in plan.participants if p.progressed_on is not None),
        adverse_events=sum(1 for e in effective if e.type == "AdverseEventReported"),
        corrections=by_type["EntryCorrected"],
        voids=by_type["EntryVoided"],
        first_enrolled_on=min(e.occurred_on for e in events if e.type == "ParticipantEnrolled"),
        last_event_on=max(e.occurred_on for e in events),
        events_by_type=dict(sorted(by_type.items())),
    )


def fold_plan(plan: TrialPlan) -> list[Participant]:
    """The plan folded into aggregates in memory, without a store and without re-checking the
    rules (the store path checks them); for benchmarks and statistics tests."""
    participants: dict[str, Participant] = {}
    event_ids: dict[tuple[str, int], str] = {}
    for event in plan.in_entry_order():
        submission = submission_for(event, event_ids)
        entry = NewEntry(str(uuid.uuid4()), submission.type, submission.occurred_on,
                         submission.data, submission.reason, event.actor, "site_coordinator")
        event_ids[(event.participant_id, event.seq)] = entry.event_id
        if event.type == "ParticipantEnrolled":
            participants[event.participant_id] = Participant.enroll(
                event.participant_id, entry, today=event.entered_on)
        else:
            participants[event.participant_id].append(entry)
    return list(participants.values())
