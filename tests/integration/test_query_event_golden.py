"""Golden files pin the stored shape of every query event (domain/queries.py), as
tests/integration/test_event_golden.py does for the participant, account and study events."""

from __future__ import annotations

from typing import Any

import pytest

from domain.ledger_event import SYSTEM, Author
from domain.queries import Query, system_query_id
from services.application import TrialLedger
from tests.integration.test_event_golden import EVENT_ID, FIXED, _compare, _stored


def _query_events() -> dict[str, Any]:
    monitor, site = Author("monitor1", "monitor", "req-1"), Author("coord1", "site_coordinator")
    query = Query.open(system_query_id("EC-TU-01", EVENT_ID, EVENT_ID), participant_id="HCC-01-001",
                       site_id="S01", target_event_id=EVENT_ID, target_type="TumorAssessed",
                       field="reads/RECIST 1.1/targets/0/diameter_mm",
                       text="400 mm is above 200 mm [EC-TU-01]", origin="EC-TU-01", by=SYSTEM,
                       candidate=True)
    query.issue(monitor, "S01")
    query.answer("a typo: 40 mm", EVENT_ID, site, "S01")
    query.reopen("the report says 41 mm", monitor, "S01")
    query.close("resolved by EntryCorrected", SYSTEM, "S01", resolved_by=EVENT_ID)
    cancelled = Query.open("00000000-0000-4000-8000-000000000002", participant_id="HCC-01-001",
                           site_id="S01", target_event_id=EVENT_ID, target_type="DoseAdministered",
                           field=None, text="which cycle?", origin="manual", by=monitor)
    cancelled.cancel(None, monitor, "S01")
    events: dict[str, Any] = {}
    for aggregate in (query, cancelled):
        for event in aggregate.collect_events():
            events.setdefault(f"Query.{type(event).__name__}", type(event)(
                **{**event.__dict__, "timestamp": FIXED, "event_id": EVENT_ID}))
    return events


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(_query_events()))
def test_query_event_shapes(ledger: TrialLedger, name: str) -> None:
    event = _query_events()[name]
    _compare(f"{name}.v{getattr(type(event), 'class_version', 1)}.json", _stored(ledger, event))


def test_every_query_event_type_is_pinned() -> None:
    assert set(_query_events()) == {f"Query.{name}" for name in (
        "QueryOpened", "QueryIssued", "QueryAnswered", "QueryReopened", "QueryClosed",
        "QueryCancelled")}
