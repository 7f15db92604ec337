"""The reactions runner goes on past an event no reaction can read, and retries one the store
failed on: one bad event never stops the edit checks and SDV withdrawals of every later one."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from domain.errors import RuleViolation
from services.application import Actor, TrialLedger
from services.monitoring.runner import ReactionRunner
from services.monitoring.seen import SeenEvent
from tests import story
from tests.integration.conftest import submission

COORDINATOR = Actor("coord1", "site_coordinator", sites=("S01",))


def enrol(ledger: TrialLedger, pid: str, site: str = "S01") -> None:
    ledger.record_participant_event(pid, submission(story.enrollment(site)), COORDINATOR)


def test_an_event_a_reaction_cannot_read_is_logged_and_passed(ledger: TrialLedger) -> None:
    for pid in ("HCC-01-001", "HCC-01-002", "HCC-01-003"):
        enrol(ledger, pid)
    seen: list[str] = []

    def fragile(_: TrialLedger, event: SeenEvent) -> None:
        if event.stream_id == "HCC-01-002":
            raise TypeError("a value of a shape no check expected")

    def recording(_: TrialLedger, event: SeenEvent) -> None:
        seen.append(event.stream_id)

    runner = ReactionRunner(ledger, ledger.store.engine, (fragile, recording), name="t1")
    assert runner.catch_up() == 3
    assert seen == ["HCC-01-001", "HCC-01-002", "HCC-01-003"]  # the next reaction still ran
    assert runner.position() == max(p for p in positions(ledger))


@pytest.mark.parametrize("failure", [
    sa.exc.OperationalError("SELECT 1", {}, Exception("the server closed the connection")),
    RuleViolation("write_contention", "query:x is being changed by many writers at once"),
])
def test_a_store_failure_keeps_the_event_for_the_next_batch(ledger: TrialLedger,
                                                            failure: Exception) -> None:
    enrol(ledger, "HCC-01-001")
    enrol(ledger, "HCC-01-002")
    attempts: list[str] = []

    def flaky(_: TrialLedger, event: SeenEvent) -> None:
        attempts.append(event.stream_id)
        if event.stream_id == "HCC-01-002" and attempts.count("HCC-01-002") == 1:
            raise failure

    runner = ReactionRunner(ledger, ledger.store.engine, (flaky,), name="t2")
    with pytest.raises(type(failure)):
        runner.run_batch()
    first = positions(ledger)[0]
    assert runner.position() == first  # the first event is done, the second kept
    assert runner.run_batch() == 1
    assert attempts == ["HCC-01-001", "HCC-01-002", "HCC-01-002"]


def positions(ledger: TrialLedger) -> list[Any]:
    return [row.position for row in ledger.store.stored_after(0, 100)]
