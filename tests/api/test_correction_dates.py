"""A correction never moves a clinical date by accident, told from an EDC developer's side.

A correction has two dates: its own (`occurred_on`, the day the correction is made, normally
today) and, only when the site says so in `data.occurred_on`, a new clinical date for the entry
it corrects. A body that could mean either gets a 422 that explains both.
"""

from __future__ import annotations

from typing import Any

from tests import story
from tests.api.conftest import Api

PID = "HCC-01-001"
ONSET = "2026-10-10"


def _with_adverse_event(api: Api) -> str:
    assert api.post(PID, story.enrollment()).status_code == 201
    assert api.post(PID, story.camrelizumab("2026-01-15")).status_code == 201
    reported = api.post(PID, story.adverse_event("AE1", ONSET, grade=2))
    assert reported.status_code == 201, reported.text
    event_id: str = reported.json()["event_id"]
    return event_id


def _adverse_event(api: Api) -> dict[str, Any]:
    casebook = api.get(f"/api/v1/participants/{PID}").json()
    event: dict[str, Any]
    (event,) = [e for e in casebook["adverse_events"] if e["ae_id"] == "AE1"]
    return event


def _corrected_grade_3() -> dict[str, Any]:
    data: dict[str, Any] = story.adverse_event("AE1", ONSET, grade=3)["data"]
    return data


def test_a_correction_dated_today_keeps_the_original_onset(api: Api) -> None:
    event_id = _with_adverse_event(api)
    response = api.post(PID, story.correction(event_id, story.today(), _corrected_grade_3()))
    assert response.status_code == 201, response.text
    adverse_event = _adverse_event(api)
    assert adverse_event["onset_on"] == ONSET
    assert adverse_event["worst_grade"] == 3


def test_a_correction_moves_the_clinical_date_only_when_its_data_says_so(api: Api) -> None:
    event_id = _with_adverse_event(api)
    body = story.correction(event_id, story.today(), _corrected_grade_3(), new_date="2026-10-12")
    response = api.post(PID, body)
    assert response.status_code == 201, response.text
    assert _adverse_event(api)["onset_on"] == "2026-10-12"
    events = api.get(f"/api/v1/participants/{PID}/events").json()
    original = next(e for e in events if e["event_id"] == event_id)
    assert original["occurred_on"] == ONSET  # the stored entry itself never changes
    trail = api.client.get("/api/v1/audit-trail", headers=api.headers("auditor"),
                           params={"participant_id": PID}).json()["entries"]
    changes = trail[-1]["changes"]
    assert {"field": "occurred_on", "old": ONSET, "new": "2026-10-12"} in changes


def test_an_ambiguous_correction_date_is_refused_and_both_dates_explained(api: Api) -> None:
    event_id = _with_adverse_event(api)
    before = api.ledger_state()
    response = api.post(PID, story.correction(event_id, "2026-10-12", _corrected_grade_3()))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["loc"] == "occurred_on"
    assert ONSET in problem["detail"] and "2026-10-12" in problem["detail"]
    assert "data.occurred_on" in problem["detail"]
    assert api.ledger_state() == before
    assert _adverse_event(api)["onset_on"] == ONSET


def test_a_correction_dated_as_the_original_entry_is_not_ambiguous(api: Api) -> None:
    event_id = _with_adverse_event(api)
    response = api.post(PID, story.correction(event_id, ONSET, _corrected_grade_3()))
    assert response.status_code == 201, response.text
    assert _adverse_event(api)["onset_on"] == ONSET


def test_an_explicit_new_date_is_checked_like_a_new_entry(api: Api) -> None:
    event_id = _with_adverse_event(api)
    before = api.ledger_state()
    body = story.correction(event_id, story.today(), _corrected_grade_3(), new_date="2025-12-01")
    response = api.post(PID, body)  # before enrolment
    assert response.status_code == 409, response.text
    assert api.ledger_state() == before


def test_the_openapi_document_explains_both_dates_and_the_whole_replacement(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    schema = document["components"]["schemas"]["EntryCorrectedData"]
    assert "replaces" in schema["properties"]["data"]["description"]
    assert "clinical date" in schema["properties"]["occurred_on"]["description"]
