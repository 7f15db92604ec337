"""Bad input gets a 4xx problem+json that says what and where, and leaves no trace in the log."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests import story
from tests.api.conftest import Api

PID = "HCC-01-010"


@pytest.fixture
def enrolled(api: Api) -> dict[str, Any]:
    response = api.post(PID, story.enrollment())
    assert response.status_code == 201
    dose = api.post(PID, story.camrelizumab("2026-01-12"))
    return {"enrollment": response.json(), "dose": dose.json()}


def _dose(**data: Any) -> dict[str, Any]:
    body = story.camrelizumab("2026-01-20")
    body["data"].update(data)
    return body


CASES: list[tuple[str, str, Any, int, str, str]] = [
    # (name, participant, body, status, where, what)
    ("negative dose", PID, _dose(dose_mg=-5), 422, "data.dose_mg", "greater than 0"),
    ("wrong type", PID, _dose(dose_mg="two hundred"), 422, "data.dose_mg", "valid number"),
    ("unknown field", PID, _dose(units="mg"), 422, "data.units", "not permitted"),
    ("missing field", PID, {"type": "DoseAdministered", "occurred_on": "2026-01-20",
                            "data": {"drug": "camrelizumab", "route": "IV"}},
     422, "data.dose_mg", "Field required"),
    ("unknown type", PID, {"type": "DoseGiven", "occurred_on": "2026-01-20", "data": {}},
     422, "type", "does not match any of the expected tags"),
    ("bad date", PID, {**_dose(), "occurred_on": "2026-02-30"}, 422, "occurred_on", "date"),
    ("future date", PID, story.camrelizumab("2099-01-01"), 422, "occurred_on", "future"),
    ("not an object", PID, [1, 2, 3], 422, "", "object"),
    ("wrong route", PID, _dose(route="oral"), 422, "data", "camrelizumab is given IV"),
    ("before enrollment", PID, story.camrelizumab("2026-01-01"), 409, "occurred_on",
     "before enrollment"),
    ("enrolled twice", PID, story.enrollment(), 409, "", "already enrolled"),
    ("unknown participant", "HCC-09-999", story.camrelizumab("2026-01-20"), 404, "",
     "not enrolled"),
    ("bad participant id", "hcc 01", story.camrelizumab("2026-01-20"), 422,
     "path.participant_id", "pattern"),
    ("AE follow-up of nothing", PID, story.ae_update("AE7", "2026-01-20", grade=3), 409,
     "data.ae_id", "has not been reported"),
    ("correction without reason", PID,
     {**story.correction(str(uuid.uuid4()), "2026-01-20", {}), "reason": None}, 422, "reason",
     "reason"),
    ("correction of nothing", PID, story.correction(str(uuid.uuid4()), "2026-01-20", {}), 409,
     "data.corrects", "no such event"),
    ("stale expected_version", PID, {**story.camrelizumab("2026-01-20"), "expected_version": 1},
     409, "", "is at version 2"),
]


@pytest.mark.parametrize(("name", "participant", "body", "status", "where", "what"), CASES,
                         ids=[c[0] for c in CASES])
def test_rejected_and_nothing_appended(api: Api, enrolled: dict[str, Any], name: str,
                                       participant: str, body: Any, status: int, where: str,
                                       what: str) -> None:
    before = api.ledger_state()
    response = api.post(participant, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and what in problem["detail"] or any(
        what in e.get("msg", "") for e in problem["errors"])
    if where:
        assert where in [e.get("loc") for e in problem["errors"]], problem
    assert api.ledger_state() == before


def test_correction_data_must_fit_the_corrected_event(api: Api, enrolled: dict[str, Any]) -> None:
    before = api.ledger_state()
    body = story.correction(enrolled["dose"]["event_id"], "2026-01-12",
                            {"drug": "camrelizumab", "dose_mg": 0, "route": "IV"})
    response = api.post(PID, body)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": "data.data.dose_mg",
                                          "msg": "Input should be greater than 0"}]
    assert api.ledger_state() == before


def test_malformed_json(api: Api, enrolled: dict[str, Any]) -> None:
    before = api.ledger_state()
    response = api.client.post(f"/api/v1/participants/{PID}/events", content=b'{"type": "Dose',
                               headers=api.headers("coord1", **{"content-type":
                                                                "application/json"}))
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert api.ledger_state() == before


def test_oversized_body(api: Api, enrolled: dict[str, Any]) -> None:
    before = api.ledger_state()
    body = _dose()
    body["reason"] = "x" * 100_000
    response = api.post(PID, body)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]
    assert api.ledger_state() == before


def test_an_idempotency_key_retried_five_times_appends_once(api: Api,
                                                            enrolled: dict[str, Any]) -> None:
    before_count, _ = api.ledger_state()
    body = story.tace("2026-01-14")
    responses = [api.post(PID, body, **{"Idempotency-Key": "tace-1"}) for _ in range(5)]
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in responses] == [None] + ["true"] * 4
    assert api.ledger_state()[0] == before_count + 1
    other = api.post(PID, story.tace("2026-01-15"), **{"Idempotency-Key": "tace-1"})
    assert other.status_code == 409 and "already used for a different request" in (
        other.json()["detail"])
    assert api.ledger_state()[0] == before_count + 1


def test_expected_version_accepts_the_current_version(api: Api, enrolled: dict[str, Any]) -> None:
    response = api.post(PID, {**story.tace("2026-01-14"), "expected_version": 2})
    assert response.status_code == 201 and response.json()["version"] == 3
