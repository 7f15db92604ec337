"""Many site coordinators at once: nothing lost, no duplicate versions, the chain verifies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from infra.ledger.verify import verify_ledger
from services.application import TrialLedger
from services.records import RecordedEvent
from tests import story
from tests.integration.conftest import post

THREADS, EACH = 8, 50


def _contacts(ledger: TrialLedger, participant_id: str, thread: int) -> list[RecordedEvent]:
    start = date(2026, 2, 1)
    return [post(ledger, participant_id, story.follow_up(
        (start + timedelta(days=(thread * EACH + i) % 200)).isoformat()))
        for i in range(EACH)]


@pytest.mark.parametrize("same_participant", [True, False], ids=["same", "different"])
def test_eight_writers_fifty_events_each(ledger: TrialLedger, settings, engine,  # type: ignore[no-untyped-def]
                                         same_participant: bool) -> None:
    # Two application instances, as two API processes would be: only the store arbitrates.
    other = TrialLedger(settings, engine)
    ids = ["HCC-01-001"] if same_participant else [f"HCC-01-{n:03d}" for n in range(THREADS)]
    for participant_id in ids:
        post(ledger, participant_id, story.enrollment())
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(_contacts, ledger if t % 2 else other,
                               ids[0] if same_participant else ids[t], t)
                   for t in range(THREADS)]
        results = [r for f in futures for r in f.result()]
    other.close()

    assert len(results) == THREADS * EACH
    assert len({r.event_id for r in results}) == THREADS * EACH
    assert len({(r.participant_id, r.version) for r in results}) == THREADS * EACH
    for participant_id in ids:
        stored = list(ledger.repository.event_store.get(participant_id))
        versions = [e.originator_version for e in stored]
        assert versions == list(range(1, len(versions) + 1))
    assert sum(len(list(ledger.repository.event_store.get(p))) for p in ids) == (
        THREADS * EACH + len(ids))
    report = verify_ledger(ledger.store)
    assert report.ok and report.events == THREADS * EACH + len(ids)
