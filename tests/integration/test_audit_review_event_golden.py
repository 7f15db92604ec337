"""Golden files pin the stored shape of the refused-access and audit-review events
(domain/access_log.py, domain/audit_review.py), as tests/integration/test_event_golden.py does
for the participant, account and study events."""

from __future__ import annotations

from typing import Any

import pytest

from domain.access_log import AccessLog
from domain.audit_review import AuditReview, WorkingHours, rules_view
from domain.ledger_event import Author
from services.application import TrialLedger
from tests.integration.test_event_golden import EVENT_ID, FIXED, _compare, _stored


def _events() -> dict[str, Any]:
    access = AccessLog.open()
    access.refused(Author("monitor1", "monitor", "req-1"), participant_id="HCC-02-001",
                   site_id="S02", action="export_data", method="POST",
                   path="/api/v1/exports/odm", unrecorded_before=2)
    review = AuditReview.record(
        window={"recorded_from": "2026-03-01T00:00:00.000000Z",
                "recorded_to": "2026-03-31T23:59:59.999999Z"},
        sites=["S01"], rules=rules_view(WorkingHours()), head_position=412,
        report_hash="ab" * 32, finding_ids=["late_entry-12", "bulk_edits-40"],
        findings=[{"finding_id": "late_entry-12", "note": "paper CRF found at the visit"}],
        conclusion="No unexplained change.", full_name="Mona Itor",
        meaning="I reviewed this audit trail", by=Author("monitor1", "monitor", "req-2"))
    events: dict[str, Any] = {}
    for aggregate, name in ((access, "AccessLog"), (review, "AuditReview")):
        for event in aggregate.collect_events():
            events[f"{name}.{type(event).__name__}"] = type(event)(
                **{**event.__dict__, "timestamp": FIXED, "event_id": EVENT_ID})
    return events


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(_events()))
def test_audit_review_event_shapes(ledger: TrialLedger, name: str) -> None:
    event = _events()[name]
    _compare(f"{name}.v{getattr(type(event), 'class_version', 1)}.json", _stored(ledger, event))


def test_every_event_type_is_pinned() -> None:
    assert set(_events()) == {"AccessLog.AccessLogOpened", "AccessLog.AccessRefused",
                              "AuditReview.AuditReviewRecorded"}
