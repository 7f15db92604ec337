"""The outcome facts the projector stores give exactly what a full derivation gives, at any
cutoff: `summary_at(facts, c, D) == participant_outcome(p, D).summary(c)` and the AE records,
before and after the facts' round trip through their stored JSON form."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.outcome_facts import (
    OutcomeFacts,
    adverse_events_at,
    facts_document,
    facts_from_document,
    outcome_facts,
    settled_document,
    summary_at,
    summary_from_document,
)
from domain.outcomes import adverse_event_records, participant_outcome
from domain.participant import Participant
from domain.protocol import CRITERIA
from services.seed import fold_plan, plan_trial
from tests.unit.test_outcomes_cutoff_property import stories


def stored(facts: OutcomeFacts) -> OutcomeFacts:
    """The facts as the read model hands them back."""
    doc = json.loads(json.dumps(facts_document(facts)))
    return facts_from_document(facts.participant_id, facts.site_id, facts.enrolled_on,
                               facts.settled_from, doc)


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
        settled = json.loads(json.dumps(settled_document(facts)))
        for later in (0, 1, 365, 5000):
            cutoff = facts.settled_from + timedelta(days=later)
            for criterion in CRITERIA:
                assert summary_from_document(settled[criterion]) == participant_outcome(
                    participant, cutoff).summary(criterion)
