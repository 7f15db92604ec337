"""Queries through the API: the lifecycle, refused transitions, who may do what, hostile
input on every parameter and field, and every read as of before and after each step."""

from __future__ import annotations

from typing import Any

import pytest

from tests import story
from tests.api.conftest import Api

PID, OTHER = "HCC-01-001", "HCC-02-001"
QUERIES = "/api/v1/queries"


def _enrol(api: Api) -> dict[str, str]:
    ids = {}
    for pid, site in ((PID, "S01"), (OTHER, "S02")):
        response = api.post(pid, story.enrollment(site_id=site), user="dm")
        assert response.status_code == 201, response.text
        ids[pid] = response.json()["event_id"]
    dose = api.post(PID, story.camrelizumab("2026-01-15"))
    assert dose.status_code == 201, dose.text
    ids["dose"] = dose.json()["event_id"]
    return ids


def _send(api: Api, path: str, user: str, body: Any = None) -> Any:
    return api.client.post(path, json=body, headers=api.headers(user))


def _open(api: Api, event_id: str, user: str = "monitor1", participant_id: str = PID,
          **extra: Any) -> dict[str, Any]:
    response = _send(api, QUERIES, user, {"participant_id": participant_id,
                                          "event_id": event_id, "text": "please confirm",
                                          **extra})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{QUERIES}/{response.json()['query_id']}"
    body: dict[str, Any] = response.json()
    return body


def _step(api: Api, query_id: str, verb: str, user: str, body: Any = None) -> Any:
    return _send(api, f"{QUERIES}/{query_id}/{verb}", user, body)


def test_the_lifecycle_reads_as_of_before_and_after_every_step(api: Api) -> None:
    ids = _enrol(api)
    query = _open(api, ids["dose"], field="dose_mg", candidate=True)
    qid = query["query_id"]
    assert (query["state"], query["source"], query["field"]) == ("candidate", "manual",
                                                                 "dose_mg")
    steps = [("issue", "monitor1", None, "open"),
             ("answer", "coord1", {"text": "200 mg as per the pharmacy log"}, "answered"),
             ("reopen", "monitor1", {"text": "the log says 150 mg"}, "open"),
             ("answer", "invest1", {"text": "corrected in the source"}, "answered"),
             ("close", "monitor1", {"text": "agreed"}, "closed")]
    moments = [query["opened_at"]]
    for verb, user, body, state in steps:
        response = _step(api, qid, verb, user, body)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state
        moments.append(response.json()["updated_at"])
    history = api.get(f"{QUERIES}/{qid}", "monitor1").json()["history"]
    assert [h["action"] for h in history] == ["opened", "issued", "answered", "re-opened",
                                              "answered", "closed"]
    assert [h["by"] for h in history] == ["monitor1", "monitor1", "coord1", "monitor1",
                                          "invest1", "monitor1"]
    expected = ["candidate", "open", "answered", "open", "answered", "closed"]
    for steps_then, (moment, state) in enumerate(zip(moments, expected, strict=True), 1):
        one = api.get(f"{QUERIES}/{qid}", "dm", as_of=moment).json()
        assert (one["state"], len(one["history"])) == (state, steps_then)
        listed = api.get(QUERIES, "dm", as_of=moment).json()["queries"]
        assert [q["state"] for q in listed] == [state]
    before = api.get(f"{QUERIES}/{qid}", "dm", as_of="2020-01-01T00:00:00Z")
    assert before.status_code == 404
    assert api.get(QUERIES, "dm", as_of="2020-01-01T00:00:00Z").json()["queries"] == []


@pytest.mark.parametrize(("path", "state", "verb", "user", "body"), [
    ([], "open", "issue", "monitor1", None),
    ([], "open", "reopen", "monitor1", {"text": "why"}),
    ([("answer", "coord1", {"text": "a"})], "answered", "answer", "coord1", {"text": "again"}),
    ([("close", "monitor1", None)], "closed", "reopen", "monitor1", {"text": "why"}),
    ([("close", "monitor1", None)], "closed", "cancel", "monitor1", None),
    ([("cancel", "dm", None)], "cancelled", "answer", "coord1", {"text": "late"}),
    ([("cancel", "dm", None)], "cancelled", "close", "monitor1", None),
])
def test_a_step_the_state_does_not_allow_is_a_409_naming_the_state(
        api: Api, path: list[tuple[str, str, Any]], state: str, verb: str, user: str,
        body: Any) -> None:
    ids = _enrol(api)
    qid = _open(api, ids["dose"])["query_id"]
    for step, by, step_body in path:
        assert _step(api, qid, step, by, step_body).status_code == 200
    before = api.ledger_state()
    refused = _step(api, qid, verb, user, body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "query_transition"
    assert f"is {state}: it cannot be" in refused.json()["detail"]
    assert api.ledger_state() == before


def test_an_answer_may_cite_only_a_correction_of_the_queried_entry(api: Api) -> None:
    ids = _enrol(api)
    qid = _open(api, ids["dose"], field="dose_mg")["query_id"]
    wrong = _step(api, qid, "answer", "coord1", {"text": "fixed",
                                                  "correction_event_id": ids[PID]})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == "correction_event_id"
    fix = api.post(PID, story.correction(ids["dose"], story.today(),
                                         story.camrelizumab("x")["data"]))
    assert fix.status_code == 201, fix.text
    cited = fix.json()["event_id"]
    answered = _step(api, qid, "answer", "coord1", {"text": "fixed",
                                                     "correction_event_id": cited})
    assert answered.status_code == 200, answered.text
    assert answered.json()["history"][-1]["cites"] == cited


@pytest.mark.parametrize(("verb", "allowed", "refused"), [
    ("close", ["monitor1", "dm"], ["coord1", "invest1", "auditor"]),
    ("cancel", ["monitor1", "dm"], ["coord1", "invest1", "auditor"]),
    ("answer", ["coord1", "invest1", "dm"], ["monitor1", "auditor"]),
])
def test_who_may_take_each_step(api: Api, verb: str, allowed: list[str],
                                refused: list[str]) -> None:
    ids = _enrol(api)
    for user in refused:
        qid = _open(api, ids["dose"])["query_id"]
        answer = _step(api, qid, verb, user, {"text": "x"})
        assert answer.status_code == 403, (user, answer.text)
    for user in allowed:
        qid = _open(api, ids["dose"])["query_id"]
        answer = _step(api, qid, verb, user, {"text": "x"})
        assert answer.status_code == 200, (user, answer.text)


def test_a_stranger_to_the_site_gets_404_exactly_as_for_an_unknown_query(api: Api) -> None:
    ids = _enrol(api)
    theirs = _open(api, ids[OTHER], user="dm", participant_id=OTHER)["query_id"]
    unknown = "00000000-0000-4000-8000-000000000000"
    for qid in (theirs, unknown):
        read = api.get(f"{QUERIES}/{qid}", "coord1")
        assert read.status_code == 404
        assert read.json()["detail"] == f"query {qid} does not exist or is not visible to you"
        assert _step(api, qid, "answer", "coord1", {"text": "x"}).status_code == 404
        assert _step(api, qid, "close", "monitor1").status_code == 404
    refused = _send(api, QUERIES, "monitor1", {"participant_id": OTHER, "event_id": ids[OTHER],
                                               "text": "x"})
    missing = _send(api, QUERIES, "monitor1", {"participant_id": "HCC-09-999",
                                               "event_id": ids[OTHER], "text": "x"})
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["detail"].replace(OTHER, "?") == \
        missing.json()["detail"].replace("HCC-09-999", "?")
    assert api.get(QUERIES, "coord1").json()["queries"] == []
    assert api.get(QUERIES, "coord1", site_id="S02").json()["queries"] == []
    assert api.get(QUERIES, "coord2", site_id="S02").json()["count"] == 1
    assert api.get(f"{QUERIES}/summary", "monitor1").json()["sites"] == []


def test_a_candidate_query_is_hidden_from_the_site_until_issued(api: Api) -> None:
    ids = _enrol(api)
    qid = _open(api, ids["dose"], candidate=True)["query_id"]
    assert api.get(f"{QUERIES}/{qid}", "coord1").status_code == 404
    assert api.get(QUERIES, "coord1").json()["queries"] == []
    assert _step(api, qid, "answer", "coord1", {"text": "x"}).status_code == 404
    assert _step(api, qid, "issue", "monitor1").status_code == 200
    assert api.get(f"{QUERIES}/{qid}", "coord1").json()["state"] == "open"


def test_lists_filter_by_site_participant_state_and_age(api: Api) -> None:
    ids = _enrol(api)
    first = _open(api, ids["dose"])["query_id"]
    _open(api, ids[PID], field="afp_ng_ml")
    _open(api, ids[OTHER], user="dm", participant_id=OTHER)
    assert _step(api, first, "answer", "coord1", {"text": "ok"}).status_code == 200

    def listed(user: str = "dm", **params: Any) -> list[str]:
        response = api.get(QUERIES, user, **params)
        assert response.status_code == 200, response.text
        return [q["participant_id"] + ":" + q["state"] for q in response.json()["queries"]]
    assert listed() == [f"{PID}:answered", f"{PID}:open", f"{OTHER}:open"]
    assert listed(site_id="S02") == [f"{OTHER}:open"]
    assert listed(participant_id=PID, state="open") == [f"{PID}:open"]
    assert listed(min_age_days=0) == listed() and listed(min_age_days=1) == []
    later = "2099-01-01T00:00:00Z"
    assert len(listed(min_age_days=365, as_of=later)) == 3
    (s01, s02) = api.get(f"{QUERIES}/summary", "dm").json()["sites"]
    assert (s01["site_id"], s01["total"], s01["states"]["answered"], s01["states"]["open"]) \
        == ("S01", 2, 1, 1)
    assert s01["active_ages_days"]["0-7"] == 2 and s02["oldest_active_days"] == 0
    aged = api.get(f"{QUERIES}/summary", "dm", as_of=later).json()["sites"][0]
    assert aged["active_ages_days"]["31+"] == 2


def test_a_query_on_what_is_not_an_entry_of_the_participant_is_refused(api: Api) -> None:
    ids = _enrol(api)
    before = api.ledger_state()
    for body, loc in [
        ({"event_id": ids[OTHER]}, "event_id"),
        ({"event_id": ids["dose"], "field": "dose"}, "field"),
        ({"event_id": ids["dose"], "field": "dose_mg/0"}, "field"),
    ]:
        response = _send(api, QUERIES, "monitor1", {"participant_id": PID, "text": "x", **body})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == loc
    voided = api.post(PID, story.void(ids["dose"], story.today()))
    assert voided.status_code == 201
    before = api.ledger_state()
    response = _send(api, QUERIES, "monitor1", {"participant_id": PID, "text": "x",
                                                "event_id": ids["dose"]})
    assert response.status_code == 409 and response.json()["rule"] == "query_on_voided_entry"
    assert api.ledger_state() == before


HOSTILE_BODIES = [
    ({"participant_id": "hcc-01-001"}, "participant_id"),
    ({"participant_id": "HCC-01-001'; DROP TABLE stored_events;--"}, "participant_id"),
    ({"event_id": "not-a-uuid"}, "event_id"),
    ({"event_id": None}, "event_id"),
    ({"field": "../../etc/passwd"}, "field"),
    ({"field": "x" * 201}, "field"),
    ({"field": "a//b"}, "field"),
    ({"text": ""}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 2001}, "text"),
    ({"text": "bell\x07"}, "text"),
    ({"text": 12}, "text"),
    ({"candidate": "maybe"}, "candidate"),
    ({"origin": "EC-TU-01"}, "origin"),
]


@pytest.mark.parametrize(("change", "loc"), HOSTILE_BODIES)
def test_hostile_open_bodies_are_422_at_the_field_and_record_nothing(
        api: Api, change: dict[str, Any], loc: str) -> None:
    ids = _enrol(api)
    before = api.ledger_state()
    body = {"participant_id": PID, "event_id": ids["dose"], "text": "please confirm", **change}
    response = _send(api, QUERIES, "monitor1", body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]], response.text
    assert api.ledger_state() == before


@pytest.mark.parametrize(("verb", "body", "loc"), [
    ("answer", {}, "text"),
    ("answer", {"text": "x", "correction_event_id": "nope"}, "correction_event_id"),
    ("answer", {"text": "x", "extra": 1}, "extra"),
    ("reopen", {}, "text"),
    ("close", {"text": "x" * 2001}, "text"),
    ("cancel", {"text": ["x"]}, "text"),
])
def test_hostile_step_bodies_are_422(api: Api, verb: str, body: Any, loc: str) -> None:
    ids = _enrol(api)
    qid = _open(api, ids["dose"])["query_id"]
    response = _step(api, qid, verb, "dm", body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]], response.text


@pytest.mark.parametrize(("path", "params", "loc"), [
    (QUERIES, {"site": "s01"}, "query.site"),
    (QUERIES, {"site": "S01' OR 1=1"}, "query.site"),
    (QUERIES, {"participant_id": "../x"}, "query.participant_id"),
    (QUERIES, {"state": "resolved"}, "query.state"),
    (QUERIES, {"min_age_days": -1}, "query.min_age_days"),
    (QUERIES, {"min_age_days": "old"}, "query.min_age_days"),
    (QUERIES, {"min_age_days": 10**20}, "query.min_age_days"),
    (QUERIES, {"as_of": "yesterday"}, "query.as_of"),
    (QUERIES, {"sites": "S01"}, "query.sites"),
    (f"{QUERIES}/summary", {"as_of": "2026-13-01T00:00:00Z"}, "query.as_of"),
    (f"{QUERIES}/summary", {"site": "S01"}, "query.site"),
    (f"{QUERIES}/not-a-uuid", {}, "path.query_id"),
    (f"{QUERIES}/00000000-0000-4000-8000-000000000000", {"as_of": "x"}, "query.as_of"),
])
def test_hostile_parameters_are_422_at_the_parameter(api: Api, path: str,
                                                     params: dict[str, Any], loc: str) -> None:
    response = api.get(path, "dm", **params)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]], response.text


@pytest.mark.parametrize("query_id", ["1 OR 1=1", "ABCDEF00-0000-4000-8000-000000000000",
                                      "%00", "query:00000000-0000-4000-8000-000000000000"])
def test_a_hostile_query_id_on_a_step_is_422_and_records_nothing(api: Api,
                                                                 query_id: str) -> None:
    before = api.ledger_state()
    response = _step(api, query_id, "close", "dm")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "path.query_id"
    assert api.ledger_state() == before
