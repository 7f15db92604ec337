"""The OpenAPI document is a contract a generated client can trust: every answer of every route,
refusals included, fits the schema documented for its status code, and every refusal is
problem+json with `errors: [{loc, msg}]` (a 409 names its rule in `rule`)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

import jsonschema_rs
import pytest

from tests import story
from tests.api.conftest import PASSWORD, Api

PID, MOVED = "HCC-01-201", "HCC-01-202"
NEW_USER, TEMPORARY, CHOSEN = "new.coordinator", "temporary pass 2026", "a chosen passphrase 26"
PROBLEM = "application/problem+json"
FILES = ("text/html", "application/xml", "application/zip")
"""Answers that are documents or files, not JSON."""


class Walk:
    """Calls the real API and checks each answer against the document, by route template."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.document: dict[str, Any] = api.client.get("/openapi.json").json()
        self.seen: dict[tuple[str, str], set[int]] = defaultdict(set)

    def call(self, method: str, template: str, user: str | None = "dm", *,
             path: dict[str, str] | None = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers = self.api.headers(user, **headers)
        url = template.format(**(path or {}))
        response = self.api.client.request(method, url, headers=headers, **kwargs)
        self.check(method, template, response)
        return response

    def check(self, method: str, template: str, response: Any) -> None:
        operation = self.document["paths"][template][method.lower()]
        status = str(response.status_code)
        where = f"{method} {template} answered {status}: {response.text[:300]}"
        assert status in operation["responses"], f"undocumented status: {where}"
        media = response.headers["content-type"].split(";")[0]
        content = operation["responses"][status].get("content", {})
        assert media in content, f"documented as {list(content)}: {where}"
        if media not in FILES:
            schema = {**content[media]["schema"], "components": self.document["components"]}
            validator = jsonschema_rs.validator_for(schema, validate_formats=True)
            problems = [f"{e.instance_path}: {e.message}" for e in
                        validator.iter_errors(response.json())]
            assert not problems, f"{where}\n" + "\n".join(problems[:10])
        if response.status_code >= 400:
            assert media == PROBLEM, where
        self.seen[(method, template)].add(response.status_code)


def _clinical_story(walk: Walk) -> dict[str, str]:
    """Enrol, scan, treat, report an AE, correct, sign, lock and unlock, transfer."""
    events = "/api/v1/participants/{participant_id}/events"
    ids: dict[str, str] = {}
    bodies = [story.enrollment(), story.scan("2026-01-11", baseline=True, recist_mm=[50],
                                             mrecist_mm=[50]),
              story.tace("2026-01-14"), story.camrelizumab("2026-01-15", dose_mg=20),
              story.adverse_event("AE1", "2026-01-25", grade=3),
              story.scan("2026-02-25", baseline=False, recist_mm=[30], mrecist_mm=[20])]
    for body in bodies:
        answer = walk.call("POST", events, "coord1", path={"participant_id": PID}, json=body)
        assert answer.status_code == 201, answer.text
        ids[body["type"]] = answer.json()["event_id"]
    fix = story.correction(ids["DoseAdministered"], story.today(), story.camrelizumab("x")["data"])
    assert walk.call("POST", events, "coord1", path={"participant_id": PID},
                     json=fix).status_code == 201
    batch = walk.call("POST", "/api/v1/events/batch", "coord1", json={"events": [
        {"participant_id": PID, "idempotency_key": "contract-1", **story.follow_up("2026-02-26")},
        {"participant_id": PID, "idempotency_key": "contract-2", "type": "FollowUpContact"}]})
    assert batch.status_code == 200, batch.text
    assert [r["status"] for r in batch.json()["results"]] == [201, 422]
    signed = walk.call("POST", "/api/v1/participants/{participant_id}/signatures", "invest1",
                       path={"participant_id": PID},
                       json={"meaning": "I approve this casebook", "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    for action in ("lock", "unlock"):
        answer = walk.call("POST", f"/api/v1/participants/{{participant_id}}/{action}",
                           path={"participant_id": PID}, json={"reason": "monitoring visit"})
        assert answer.status_code == 201, answer.text
    assert walk.call("POST", events, "coord1", path={"participant_id": MOVED},
                     json=story.enrollment()).status_code == 201
    moved = walk.call("POST", "/api/v1/participants/{participant_id}/transfer",
                      path={"participant_id": MOVED},
                      json={"to_site": "S02", "reason": "the participant moved house"})
    assert moved.status_code == 201, moved.text
    return ids


def _study_story(walk: Walk) -> None:
    cutoff = walk.call("POST", "/api/v1/study/cutoffs",
                       json={"name": "interim", "cutoff_on": "2026-03-31", "reason": "interim"})
    assert cutoff.status_code == 201, cutoff.text
    for action in ("lock", "unlock"):
        answer = walk.call("POST", f"/api/v1/study/{action}", json={"reason": "interim lock"})
        assert answer.status_code == 201, answer.text
    assert walk.call("POST", "/api/v1/ledger/checkpoints").status_code == 201


def _account_story(walk: Walk) -> None:
    made = walk.call("POST", "/api/v1/accounts", "admin", json={
        "username": NEW_USER, "full_name": "New Coordinator", "role": "site_coordinator",
        "sites": ["S01"], "password": TEMPORARY})
    assert made.status_code == 201, made.text
    chosen = walk.call("POST", "/api/v1/auth/password", None, json={
        "username": NEW_USER, "current_password": TEMPORARY, "new_password": CHOSEN})
    assert chosen.status_code == 200, chosen.text
    token = walk.call("POST", "/api/v1/auth/token", None,
                      data={"username": NEW_USER, "password": CHOSEN})
    assert token.status_code == 200, token.text
    account = "/api/v1/accounts/{username}"
    changes: list[tuple[str, dict[str, Any]]] = [
        ("sites", {"sites": ["S01", "S02"], "reason": "covers S02 too"}),
        ("role", {"role": "investigator", "reason": "now an investigator"}),
        ("lock", {"reason": "on leave"}), ("unlock", {"reason": "back"}),
        ("password", {"new_password": TEMPORARY + " reset", "reason": "forgotten"}),
        ("deactivate", {"reason": "left the study"})]
    for change, body in changes:
        answer = walk.call("POST", account + f"/{change}", "admin",
                           path={"username": NEW_USER}, json=body)
        assert answer.status_code == 200, answer.text
    assert walk.call("GET", account, "admin", path={"username": NEW_USER}).status_code == 200
    assert walk.call("GET", "/api/v1/accounts", "admin").status_code == 200
    own = walk.call("POST", "/api/v1/accounts/me/password", "auditor",
                    json={"current_password": PASSWORD, "new_password": CHOSEN})
    assert own.status_code == 200, own.text
    walk.api.forget("auditor")


def _reads(walk: Walk, ids: dict[str, str]) -> None:
    participant = {"participant_id": PID}
    for template in ("/api/v1/participants/{participant_id}",
                     "/api/v1/participants/{participant_id}/events",
                     "/api/v1/participants/{participant_id}/signatures",
                     "/api/v1/participants/{participant_id}/audit-report",
                     "/api/v1/participants/{participant_id}/schedule"):
        assert walk.call("GET", template, "monitor1", path=participant).status_code == 200
    reads: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/participants", {}), ("/api/v1/study", {}),
        ("/api/v1/audit-trail", {"limit": 5}), ("/api/v1/projections", {}),
        ("/api/v1/ledger/verify", {"read_models": "true"}),
        ("/api/v1/ledger/checkpoints/latest", {}), ("/api/v1/ledger/public-key", {}),
        ("/api/v1/ledger/proofs/inclusion", {"event_id": ids["ParticipantEnrolled"]}),
        ("/api/v1/ledger/proofs/consistency", {"first": 1}),
        ("/api/v1/endpoints", {"criteria": "mRECIST", "cutoff": "interim"}),
        ("/api/v1/endpoints", {"criteria": "RECIST 1.1"}),
        ("/api/v1/endpoints/curves", {"criteria": "mRECIST", "cutoff": "interim"}),
        ("/api/v1/safety", {"cutoff": "2026-03-31"}),
        ("/api/v1/participants", {"as_of": "2001-01-01T00:00:00Z"}),
        ("/api/v1/endpoints", {"criteria": "mRECIST", "as_of": "2001-01-01T00:00:00Z"}),
        ("/api/v1/schedule/missing-data", {"on": "2026-04-20"})]
    for template, params in reads:
        answer = walk.call("GET", template, params=params)
        assert answer.status_code == 200, answer.text
    assert walk.call("GET", "/health", None).status_code == 200


def _exports(walk: Walk) -> None:
    odm = walk.call("POST", "/api/v1/exports/odm", "monitor1", json={"reason": "visit"})
    assert odm.status_code == 201, odm.text
    for kind in ("sdtm", "adam"):
        made = walk.call("POST", f"/api/v1/exports/{kind}", params={"cutoff": "interim"})
        assert made.status_code == 201, made.text
    listed = walk.call("GET", "/api/v1/exports", "auditor", params={
        "sha256": odm.headers["x-export-sha256"]})
    assert [e["export_id"] for e in listed.json()["exports"]] == [odm.headers["x-export-id"]]
    one = walk.call("GET", "/api/v1/exports/{export_id}", "monitor1",
                    path={"export_id": odm.headers["x-export-id"]})
    assert one.status_code == 200, one.text
    walk.call("GET", "/api/v1/exports/{export_id}", "monitor1",
              path={"export_id": str(uuid.uuid4())})  # 404
    walk.call("POST", "/api/v1/exports/odm", "monitor1", params={"site_id": "S02"})  # 403


def _audit_review(walk: Walk) -> None:
    """The report, a signed review of it (as the data manager: the auditor's password changed
    in _account_story), a stale one (409) and the list."""
    report = walk.call("GET", "/api/v1/audit-review", "auditor", params={"site_id": "S01"})
    assert report.status_code == 200, report.text
    body = report.json()
    review = {**body["window"], "site_id": "S01", "report_hash": body["report_hash"],
              "findings": [{"finding_id": f["finding_id"], "note": "explained at the visit"}
                           for f in body["findings"][:1]],
              "conclusion": "nothing unexplained", "meaning": "I reviewed this audit trail",
              "password": PASSWORD}
    made = walk.call("POST", "/api/v1/audit-reviews", "dm", json=review)
    assert made.status_code == 201, made.text
    walk.call("POST", "/api/v1/audit-reviews", "dm", json={**review, "report_hash": "0" * 64})
    listed = walk.call("GET", "/api/v1/audit-reviews", "auditor")
    assert listed.status_code == 200, listed.text


def _sdv(walk: Walk, ids: dict[str, str]) -> None:
    sdv = "/api/v1/participants/{participant_id}/sdv"
    marked = walk.call("POST", sdv, "monitor1", path={"participant_id": PID}, json={
        "event_ids": [ids["TumorAssessed"]], "visit": "Week 6", "comment": "CT report"})
    assert marked.status_code == 201, marked.text
    walk.call("POST", sdv, "monitor1", path={"participant_id": PID},
              json={"event_ids": [ids["TumorAssessed"]]})  # 409: verified already
    walk.call("POST", sdv, "monitor1", path={"participant_id": MOVED},
              json={"visit_on": "2026-01-10"})  # 404: moved to S02
    status = walk.call("GET", sdv, "monitor1", path={"participant_id": PID})
    assert status.status_code == 200, status.text
    summary = walk.call("GET", "/api/v1/sdv", "dm", params={"site_id": "S01"})
    assert summary.status_code == 200, summary.text


def _query_story(walk: Walk, ids: dict[str, str]) -> None:
    queries, one = "/api/v1/queries", "/api/v1/queries/{query_id}"
    opened = walk.call("POST", queries, "monitor1", json={
        "participant_id": PID, "event_id": ids["DoseAdministered"], "field": "dose_mg",
        "text": "20 mg of camrelizumab?", "candidate": True})
    assert opened.status_code == 201, opened.text
    query = {"query_id": opened.json()["query_id"]}
    for verb, user, body in (("issue", "monitor1", None), ("answer", "coord1", {"text": "a"}),
                             ("reopen", "monitor1", {"text": "b"}),
                             ("answer", "coord1", {"text": "c"}),
                             ("close", "monitor1", {"text": "d"})):
        answer = walk.call("POST", f"{one}/{verb}", user, path=query, json=body)
        assert answer.status_code == 200, answer.text
    walk.call("POST", f"{one}/cancel", "monitor1", path=query)  # 409: closed
    walk.call("GET", one, "coord2", path=query)  # 404: another site's
    second = walk.call("POST", queries, "dm", json={
        "participant_id": PID, "event_id": ids["TACEPerformed"], "text": "which agent?"})
    cancelled = walk.call("POST", f"{one}/cancel", "dm",
                          path={"query_id": second.json()["query_id"]})
    assert cancelled.status_code == 200, cancelled.text
    assert walk.call("GET", queries, "monitor1", params={"state": "closed"}).status_code == 200
    assert walk.call("GET", f"{queries}/summary", "monitor1").status_code == 200
    assert walk.call("GET", one, "monitor1", path=query).status_code == 200
    walk.call("GET", one, "monitor1", path=query, params={"as_of": "2001-01-01T00:00:00Z"})


def _refusals(walk: Walk) -> None:
    events = "/api/v1/participants/{participant_id}/events"
    pid = {"participant_id": PID}
    walk.call("GET", "/api/v1/participants/{participant_id}", path={"participant_id": "HCC-09"})
    walk.call("POST", events, "coord1", path=pid, json=story.enrollment())  # 409
    walk.call("POST", events, "coord1", path=pid, json={"occurred_on": "2026-02-01"})  # 422
    walk.call("POST", events, "coord1", path=pid, content=b'{"type": "Dose',
              headers={"content-type": "application/json"})  # 400
    walk.call("POST", events, "coord1", path=pid,
              json={**story.tace("2026-02-01"), "reason": "x" * 70_000})  # 413
    walk.call("GET", "/api/v1/participants", None)  # 401
    walk.call("GET", "/api/v1/participants", "admin")  # 403
    walk.call("GET", "/api/v1/audit-trail", params={"from": "2026-01-01"})  # 422
    walk.call("GET", "/api/v1/accounts/{username}", "admin", path={"username": "nobody"})
    walk.call("POST", "/api/v1/auth/token", None,
              json={"username": "dm", "password": PASSWORD})  # 415
    for _ in range(11):
        walk.call("POST", "/api/v1/auth/token", None,
                  data={"username": "no.such.user", "password": "wrong"})  # 401, then 429


def test_no_refusal_is_documented_as_fastapis_validation_error(api: Api) -> None:
    document = Walk(api).document
    assert "HTTPValidationError" not in json.dumps(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            refusals = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
            assert "422" in refusals, f"{method} {path}"
            for code, response in refusals.items():
                assert response["content"] == {PROBLEM: {"schema": {
                    "$ref": "#/components/schemas/Problem"}}}, f"{method} {path} {code}"
            if path.startswith("/api/v1/") and not path.startswith("/api/v1/auth/"):
                assert {"401", "403"} <= set(refusals), f"{method} {path}"


def test_every_route_documents_what_its_success_answer_contains(api: Api) -> None:
    for path, item in Walk(api).document["paths"].items():
        for method, operation in item.items():
            (success,) = [r for code, r in operation["responses"].items() if code[0] == "2"]
            content = success["content"]
            if any(media in content for media in FILES):
                continue
            schema = content["application/json"]["schema"]
            named = schema.get("$ref") or schema.get("items", {}).get("$ref")
            assert named, f"{method} {path} documents no response model: {schema}"


def test_a_generated_client_can_parse_every_answer_of_a_whole_trial_story(api: Api) -> None:
    walk = Walk(api)
    ids = _clinical_story(walk)
    _study_story(walk)
    _account_story(walk)
    _reads(walk, ids)
    _exports(walk)
    _sdv(walk, ids)
    _audit_review(walk)
    _query_story(walk, ids)
    _refusals(walk)
    documented = {(method.upper(), path) for path, item in walk.document["paths"].items()
                  for method in item}
    assert documented == set(walk.seen), documented ^ set(walk.seen)
    unanswered = [op for op, statuses in walk.seen.items()
                  if not any(200 <= s < 300 for s in statuses)]
    assert not unanswered, unanswered
    refused = set().union(*walk.seen.values())
    assert {400, 401, 403, 404, 409, 413, 415, 422, 429} <= refused, refused


def test_a_conflict_names_its_rule_at_the_top_and_lists_only_loc_and_msg(api: Api) -> None:
    assert api.post(PID, story.enrollment()).status_code == 201
    before = api.ledger_state()
    early = api.post(PID, story.camrelizumab("2026-01-01"))
    assert early.status_code == 409, early.text
    problem = early.json()
    assert problem["rule"] == "not_before_enrollment"
    assert problem["errors"] and all(set(e) == {"loc", "msg"} for e in problem["errors"])
    assert "occurred_on" in [e["loc"] for e in problem["errors"]]
    again = api.post(PID, story.enrollment())
    assert again.status_code == 409 and again.json()["rule"] == "enrolled_once"
    assert all(set(e) == {"loc", "msg"} for e in again.json()["errors"])
    assert api.ledger_state() == before


@pytest.mark.parametrize("missing", ["type", "everything"])
def test_an_event_without_a_type_is_told_the_valid_types(api: Api, missing: str) -> None:
    assert api.post(PID, story.enrollment()).status_code == 201
    before = api.ledger_state()
    body = {} if missing == "everything" else {"occurred_on": "2026-01-20", "data": {}}
    response = api.post(PID, body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["loc"] == "type"
    for event_type in ("ParticipantEnrolled", "DoseAdministered", "EntryCorrected"):
        assert event_type in error["msg"] and event_type in response.json()["detail"]
    assert api.ledger_state() == before


def test_a_json_sign_in_is_told_to_send_a_form_and_records_nothing(api: Api) -> None:
    before = api.ledger_state()
    response = api.client.post("/api/v1/auth/token",
                               json={"username": "coord1", "password": PASSWORD})
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == PROBLEM
    message = response.json()["detail"]
    assert "application/x-www-form-urlencoded" in message
    assert "username" in message and "password" in message
    assert api.ledger_state() == before
    assert api.login("coord1").status_code == 200  # the same credentials as a form work
