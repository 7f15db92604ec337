"""The outcome facts the projector stores give exactly what a full derivation gives, at any
cutoff: `summary_at(facts, c, D) == participant_outcome(p, D).summary(c)` and the AE records,
before and after the facts' round trip through their stored JSON form; and the facts carried
event by event (`next_facts`, `settled_summaries` from the ones before) equal the facts
derived from every entry at each version."""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.adverse_events import adverse_event_records
from domain.outcome_facts import (
    OutcomeFacts,
    adverse_events_at,
    next_facts,
    outcome_facts,
    settled_summaries,
    summary_at,
)
from domain.participant import Participant
from domain.participant_outcome import participant_outcome
from domain.protocol import CRITERIA
from projections.outcome_documents import (
    adverse_events_document,
    criteria_document,
    facts_from_documents,
    settled_document,
    settled_from_document,
    vital_document,
)
from services.seed import fold_plan, plan_trial
from tests.unit.test_outcomes_cutoff_property import stories


def stored(facts: OutcomeFacts) -> OutcomeFacts:
    """The facts as the read model hands them back."""
    return facts_from_documents(facts.participant_id, facts.site_id, facts.enrolled_on,
                                facts.settled_from, vital_document(facts),
                                criteria_document(facts.criteria),
                                adverse_events_document(facts.adverse_events))


def assert_same_at(participant: Participant, facts: OutcomeFacts, cutoff: date) -> None:
    expected = participant_outcome(participant, cutoff)
    for criterion in CRITERIA:
        assert summary_at(facts, criterion, cutoff) == expected.summary(criterion), (
            participant.id, criterion, cutoff)
    assert adverse_events_at(facts, cutoff) == adverse_event_records(participant, cutoff)


def cutoffs(participant: Participant, rng: random.Random, n: int) -> list[date]:
    """Every dated entry's day, the day before and after, and random days around them."""
    days = {e.occurred_on for e in participant.effective_entries()}
    edges = {d + timedelta(days=k) for d in days for k in (-1, 0, 1)}
    first, last = min(days), max(days)
    spread = [first + timedelta(days=rng.randint(-30, (last - first).days + 400))
              for _ in range(n)]
    return sorted(edges | set(spread))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories(), st.randoms(use_true_random=False))
def test_facts_give_the_full_derivation_at_every_cutoff(
    case: tuple[Participant, date, dict[str, Any]], rng: random.Random
) -> None:
    participant, _, _ = case
    facts = outcome_facts(participant)
    again = stored(facts)
    for cutoff in cutoffs(participant, rng, 5):
        assert_same_at(participant, facts, cutoff)
        assert_same_at(participant, again, cutoff)


def test_facts_of_a_seeded_trial_give_the_full_derivation() -> None:
    rng = random.Random(11)
    for participant in fold_plan(plan_trial(participants=60, seed=2026)):
        facts = stored(outcome_facts(participant))
        for cutoff in rng.sample(cutoffs(participant, rng, 4), 12):
            assert_same_at(participant, facts, cutoff)


def test_the_settled_summary_holds_from_the_day_after_the_last_entry() -> None:
    for participant in fold_plan(plan_trial(participants=40, seed=7)):
        facts = outcome_facts(participant)
        latest = max(e.occurred_on for e in participant.effective_entries())
        assert facts.settled_from == latest + timedelta(days=1)
        settled = settled_from_document(settled_document(settled_summaries(facts)))
        for later in (0, 1, 365, 5000):
            cutoff = facts.settled_from + timedelta(days=later)
            for criterion in CRITERIA:
                assert settled[criterion] == participant_outcome(
                    participant, cutoff).summary(criterion)


def carried_equal_derived(participant: Participant) -> int:
    """Fold the participant's events one at a time, carrying facts and settled summaries from
    the event before, and compare with a derivation from every entry at each version."""
    # The library types pending events by its base class; a participant's are
    # Participant.Events.
    events = cast(Sequence[Participant.Event],
                  copy.deepcopy(participant).collect_events())
    state: Any = None
    facts = settled = None
    for event in events:
        state = event.mutate(state)
        if facts is None:
            facts = outcome_facts(state)
            settled = settled_summaries(facts)
        else:
            before = facts
            facts = next_facts(before, state, type(event).__name__, event.event_id)
            settled = settled_summaries(facts, before, settled)
        assert facts == outcome_facts(state), (state.id, state.version, type(event).__name__)
        assert settled == settled_summaries(outcome_facts(state)), (state.id, state.version)
    return len(events)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories())
def test_facts_carried_event_by_event_equal_those_derived_from_every_entry(
    case: tuple[Participant, date, dict[str, Any]],
) -> None:
    carried_equal_derived(case[0])


def test_facts_carried_through_a_seeded_trial_equal_those_derived() -> None:
    """The seeded trial has corrections, voids, AEs and off-protocol therapy."""
    assert sum(carried_equal_derived(p) for p in fold_plan(plan_trial(participants=60, seed=3))
               ) > 2000
