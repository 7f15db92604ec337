"""Text from clients: no control, bidi, zero-width or surrogate code points anywhere the service
reads text (bodies, query parameters, headers), NFC for what it accepts, and read models that
survive whatever an older event holds."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from domain.events import AdverseEventReportedData, ParticipantWithdrewData
from services.application import Actor, Submission
from tests import story
from tests.api.conftest import Api

PID = "HCC-01-020"
NUL, C1_NEL, ZWSP, BOM = "\x00", "\x85", "\u200b", "\ufeff"
RLO, LRI, RLM = "\u202e", "\u2066", "\u200f"  # right-to-left override, isolate, mark


@pytest.fixture
def enrolled(api: Api) -> dict[str, Any]:
    assert api.post(PID, story.enrollment()).status_code == 201
    dose = api.post(PID, story.camrelizumab("2026-01-12"))
    tace = api.post(PID, story.tace("2026-01-13"))
    assert dose.status_code == tace.status_code == 201
    return {"dose": dose.json(), "tace": tace.json()}


def _post_raw(api: Api, body: Any, user: str = "coord1") -> Any:
    """Post JSON as written by json.dumps (which escapes a lone surrogate as \\udXXX)."""
    return api.client.post(f"/api/v1/participants/{PID}/events", content=json.dumps(body),
                           headers=api.headers(user, **{"content-type": "application/json"}))


def _refused(api: Api, response: Any, loc: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert loc in [e["loc"] for e in problem["errors"]], problem
    return problem


def _with_lesion_id(lesion_id: str) -> dict[str, Any]:
    body = story.scan("2026-01-08", baseline=True, recist_mm=[42], mrecist_mm=[35])
    body["data"]["reads"]["RECIST 1.1"]["targets"][0]["lesion_id"] = lesion_id
    return body


def _correction_with_reason(reason: str) -> Any:
    return lambda entered: story.correction(entered["dose"]["event_id"], "2026-01-12",
                                            story.camrelizumab("x")["data"], reason=reason)


EVENT_CASES: list[tuple[str, Any, str, str]] = [
    # (name, body or body-from-dose, where, what the message names)
    ("NUL in term", story.adverse_event("AE1", "2026-01-20", term=f"Nausea{NUL}"),
     "data.term", "U+0000"),
    ("zero-width space in term", story.adverse_event("AE1", "2026-01-20", term=f"Nau{ZWSP}sea"),
     "data.term", "zero-width"),
    ("byte-order mark in term", story.adverse_event("AE1", "2026-01-20", term=f"{BOM}Nausea"),
     "data.term", "zero-width"),
    ("right-to-left override in ae_id", story.adverse_event(f"AE{RLO}1", "2026-01-20"),
     "data.ae_id", "bidirectional"),
    ("right-to-left mark in term", story.adverse_event("AE1", "2026-01-20", term=f"Rash{RLM}"),
     "data.term", "bidirectional"),
    ("C1 control in term", story.adverse_event("AE1", "2026-01-20", term=f"Rash{C1_NEL}"),
     "data.term", "control"),
    ("newline in a short text", story.adverse_event("AE1", "2026-01-20", term="Rash\nitchy"),
     "data.term", "only in free text"),
    ("lone surrogate in term", story.adverse_event("AE1", "2026-01-20", term="Rash\ud800"),
     "data.term", "surrogate"),
    ("isolate in a nested lesion id", _with_lesion_id(f"T{LRI}1"),
     "data.reads.RECIST 1.1.targets.0.lesion_id", "bidirectional"),
    ("NUL in reason", _correction_with_reason(f"typo{NUL}"), "reason", "U+0000"),
    ("bidi override in reason", _correction_with_reason(f"typo {RLO}dne"), "reason",
     "bidirectional"),
    ("NUL inside corrected data", lambda entered: story.correction(
        entered["tace"]["event_id"], "2026-01-13", {**story.tace("x")["data"],
                                                    "agent": f"epi{NUL}"}),
     "data.data.agent", "U+0000"),
]


@pytest.mark.parametrize(("name", "body", "where", "what"), EVENT_CASES,
                         ids=[c[0] for c in EVENT_CASES])
def test_event_text_with_forbidden_code_points_is_refused_naming_the_field(
        api: Api, enrolled: dict[str, Any], name: str, body: Any, where: str, what: str) -> None:
    body = body(enrolled) if callable(body) else body
    before = api.ledger_state()
    problem = _refused(api, _post_raw(api, body, user="dm"), where)
    assert any(what in e["msg"] for e in problem["errors"]), problem
    assert api.ledger_state() == before


def test_free_text_keeps_tab_and_newline_and_all_text_is_stored_as_nfc(
        api: Api, enrolled: dict[str, Any]) -> None:
    decomposed = "Cafe\u0301 au lait spots"  # e + combining acute
    reason = "dose from the wrong line\r\nsee\tsource document"
    assert api.post(PID, story.adverse_event("AE1", "2026-01-20", term=decomposed)
                    ).status_code == 201
    assert api.post(PID, _correction_with_reason(reason)(enrolled), user="dm").status_code == 201
    events = api.get(f"/api/v1/participants/{PID}/events").json()
    assert events[3]["data"]["term"] == "Caf\u00e9 au lait spots"
    assert events[4]["reason"] == "dose from the wrong line\nsee\tsource document"


ADMIN_CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("NUL in full_name", "POST", "/api/v1/accounts",
     {"username": "newuser", "full_name": f"New{NUL}User", "role": "monitor", "sites": ["S01"],
      "password": "a long enough passphrase"}, "full_name"),
    ("override in username", "POST", "/api/v1/accounts",
     {"username": f"new{RLO}user", "full_name": "New User", "role": "monitor", "sites": [],
      "password": "a long enough passphrase"}, "username"),
    ("NUL in a password", "POST", "/api/v1/accounts/coord1/password",
     {"new_password": f"a long{NUL} passphrase", "reason": "forgotten"}, "new_password"),
    ("lone surrogate in a password", "POST", "/api/v1/accounts/coord1/password",
     {"new_password": "a long \udc80 passphrase", "reason": "forgotten"}, "new_password"),
    ("NUL in a lock reason", "POST", "/api/v1/accounts/coord1/lock",
     {"reason": f"left{NUL}"}, "reason"),
    ("zero-width in a role", "POST", "/api/v1/accounts/coord1/role",
     {"role": f"monitor{ZWSP}", "reason": "new duties"}, "role"),
    ("isolate in a cutoff name", "POST", "/api/v1/study/cutoffs",
     {"name": f"primary{LRI}", "cutoff_on": "2026-06-30", "reason": "planned"}, "name"),
    ("C1 control in a database lock reason", "POST", "/api/v1/study/lock",
     {"reason": f"final{C1_NEL}"}, "reason"),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "where"), ADMIN_CASES,
                         ids=[c[0] for c in ADMIN_CASES])
def test_account_and_study_bodies_refuse_forbidden_code_points(
        api: Api, name: str, method: str, path: str, body: dict[str, Any], where: str) -> None:
    user = "dm" if "/study/" in path else "admin"
    before = api.ledger_state()
    response = api.client.request(method, path, content=json.dumps(body), headers=api.headers(
        user, **{"content-type": "application/json"}))
    _refused(api, response, where)
    assert api.ledger_state() == before


def test_signature_meaning_refuses_zero_width_characters(api: Api,
                                                         enrolled: dict[str, Any]) -> None:
    before = api.ledger_state()
    response = api.client.post(f"/api/v1/participants/{PID}/signatures", headers=api.headers(
        "invest1"), json={"meaning": f"I approve{ZWSP}", "password": "a long enough passphrase"})
    _refused(api, response, "meaning")
    assert api.ledger_state() == before


@pytest.mark.parametrize(("path", "params", "where"), [
    ("/api/v1/audit-trail", {"user": f"coord1{NUL}"}, "query.user"),
    ("/api/v1/audit-trail", {"user": f"coord{RLO}1"}, "query.user"),
    ("/api/v1/participants", {"as_of": f"2026-03-03T14:00:00Z{ZWSP}"}, "query.as_of"),
    ("/api/v1/endpoints", {"criteria": f"RECIST 1.1{C1_NEL}"}, "query.criteria"),
], ids=["NUL in user", "override in user", "zero-width in as_of", "C1 in criteria"])
def test_query_parameters_refuse_forbidden_code_points(api: Api, enrolled: dict[str, Any],
                                                       path: str, params: dict[str, str],
                                                       where: str) -> None:
    before = api.ledger_state()
    response = api.client.get(path, params=params, headers=api.headers("auditor"))
    _refused(api, response, where)
    assert api.ledger_state() == before


@pytest.mark.parametrize("key", [b"tace\x01one", "tace\u200b1".encode(), "tace\u202e1".encode(),
                                 b"", b"k" * 201],
                         ids=["control", "zero-width", "override", "empty", "too long"])
def test_a_malformed_idempotency_key_is_refused_naming_the_header(
        api: Api, enrolled: dict[str, Any], key: bytes) -> None:
    before = api.ledger_state()
    response = api.client.post(
        f"/api/v1/participants/{PID}/events", content=json.dumps(story.tace("2026-01-14")),
        headers=[(b"authorization", f"Bearer {api.token('coord1')}".encode()),
                 (b"content-type", b"application/json"), (b"idempotency-key", key)])
    _refused(api, response, "header.Idempotency-Key")
    assert api.ledger_state() == before


def test_a_malformed_request_id_is_replaced_by_a_generated_one(api: Api,
                                                               enrolled: dict[str, Any]) -> None:
    bad = "req\u202eid".encode()
    response = api.client.post(
        f"/api/v1/participants/{PID}/events", content=json.dumps(story.tace("2026-01-14")),
        headers=[(b"authorization", f"Bearer {api.token('coord1')}".encode()),
                 (b"content-type", b"application/json"), (b"x-request-id", bad)])
    assert response.status_code == 201, response.text
    generated = response.headers["x-request-id"]
    assert generated != bad.decode("latin-1") and len(generated) == 32
    int(generated, 16)
    kept = api.client.get("/health", headers={"X-Request-ID": "client-42"})
    assert kept.headers["x-request-id"] == "client-42"


def _record_directly(api: Api, participant_id: str, type_: str, data: Any, *,
                     reason: str | None = None) -> None:
    """What an older release (or a script using the application layer) could have written."""
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    ledger.record_participant_event(
        participant_id, Submission(type_, date(2026, 1, 21), data, reason),
        Actor("coord1", "site_coordinator", "Coord1", ("S01",)))


def test_events_holding_nul_do_not_break_the_audit_trail_or_report(
        api: Api, enrolled: dict[str, Any]) -> None:
    _record_directly(api, PID, "AdverseEventReported", AdverseEventReportedData.model_construct(
        ae_id=f"AE{NUL}9", term=f"Na{NUL}usea {RLO}", grade=2, serious=False,
        related_to=[], immune_related=False))
    _record_directly(api, PID, "ParticipantWithdrew", ParticipantWithdrewData.model_construct(
        reason=f"moved{NUL}away", follow_up_allowed=True), reason=f"because{NUL}")
    trail = api.client.get("/api/v1/audit-trail", headers=api.headers("auditor"),
                           params={"participant_id": PID})
    assert trail.status_code == 200, trail.text
    last = trail.json()["entries"][-1]
    assert last["reason"] == "because\ufffd"  # the read model's stand-in for U+0000
    report = api.client.get(f"/api/v1/participants/{PID}/audit-report",
                            headers=api.headers("auditor"))
    assert report.status_code == 200 and "because\ufffd" in report.text
    events = api.get(f"/api/v1/participants/{PID}/events")
    assert events.status_code == 200
    assert events.json()[-2]["data"]["term"] == f"Na{NUL}usea {RLO}"  # the event is unchanged
    assert api.get(f"/api/v1/participants/{PID}").status_code == 200


def test_a_json_key_with_a_lone_surrogate_gets_a_problem_not_a_server_error(
        api: Api, enrolled: dict[str, Any]) -> None:
    before = api.ledger_state()
    body = story.tace("2026-01-14")
    body["data"]["\udc80x"] = 1
    response = _post_raw(api, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == ["data"]
    assert api.ledger_state() == before
