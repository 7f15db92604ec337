"""A site's backlog in one request: each event keeps its own key, checks and result; the good
ones are appended together, the bad ones leave no trace, and a retried batch is answered as it
was the first time."""

from __future__ import annotations

from typing import Any

from tests import story
from tests.api.conftest import Api

BATCH = "/api/v1/events/batch"


def _item(pid: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"participant_id": pid, "idempotency_key": key, **body}


def _post(api: Api, events: list[Any], user: str = "coord1") -> Any:
    return api.client.post(BATCH, json={"events": events}, headers=api.headers(user))


def test_a_backlog_with_bad_events_keeps_every_good_one(api: Api) -> None:
    post = api.post("HCC-02-001", story.enrollment(site_id="S02"), user="coord2")
    assert post.status_code == 201
    count, _ = api.ledger_state()
    bad_dose = story.camrelizumab("2026-01-12")
    bad_dose["data"]["dose_mg"] = -5
    events = [
        _item("HCC-01-001", "k0", story.enrollment()),
        _item("HCC-01-001", "k1", story.camrelizumab("2026-01-12")),
        _item("HCC-01-002", "k2", story.enrollment()),
        _item("HCC-01-001", "k3", bad_dose),                       # invalid value: 422
        _item("HCC-02-001", "k4", story.follow_up("2026-01-20")),  # another site: 404
        _item("HCC-01-002", "k5", story.follow_up("2025-01-01")),  # before enrolment: refused
        _item("HCC-01-001", "k6", story.follow_up("2026-01-20")),
        "not an event",                                            # 422 for this item only
        _item("hcc", "", story.follow_up("2026-01-20")),           # bad id and key: 422
    ]

    answer = _post(api, events)

    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 201, 422, 404, results[5]["status"],
                                              201, 422, 422]
    assert results[5]["status"] in (409, 422)
    assert answer.json()["appended"] == 4 and answer.json()["refused"] == 5
    assert results[3]["problem"]["errors"][0]["loc"] == "events.3.data.dose_mg"
    assert results[4]["problem"]["detail"] == api.post(
        "HCC-09-999", story.follow_up("2026-01-20")).json()["detail"].replace(
        "HCC-09-999", "HCC-02-001")
    assert {e["loc"] for e in results[8]["problem"]["errors"]} == {
        "events.8.participant_id", "events.8.idempotency_key"}
    versions = [r["event"]["version"] for r in results if r["status"] == 201]
    assert versions == [1, 2, 1, 3]
    positions = [r["event"]["position"] for r in results if r["status"] == 201]
    assert positions == sorted(positions)
    assert api.ledger_state()[0] == count + 4
    casebook = api.get("/api/v1/participants/HCC-01-001").json()
    assert casebook["version"] == 3

    again = _post(api, events)  # the client never saw the answer and sends it all again

    assert [r["status"] for r in again.json()["results"]] == [r["status"] for r in results]
    assert [r["replayed"] for r in again.json()["results"]][:3] == [True, True, True]
    assert [r["event"]["event_id"] for r in again.json()["results"] if r["event"]] == [
        r["event"]["event_id"] for r in results if r["event"]]
    assert again.json()["appended"] == 0
    assert api.ledger_state()[0] == count + 4


def test_a_key_reused_for_another_event_is_refused_alone(api: Api) -> None:
    first = _post(api, [_item("HCC-01-001", "same", story.enrollment())])
    assert first.json()["results"][0]["status"] == 201
    count, _ = api.ledger_state()

    answer = _post(api, [_item("HCC-01-001", "same", story.follow_up("2026-01-20")),
                         _item("HCC-01-001", "other", story.follow_up("2026-01-21"))])

    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == [409, 201]
    assert answer.json()["results"][0]["problem"]["rule"] == "idempotency_key_reused"
    assert api.ledger_state()[0] == count + 1


def test_a_locked_database_refuses_every_event_of_a_batch(api: Api) -> None:
    _post(api, [_item("HCC-01-001", "e", story.enrollment())])
    locked = api.client.post("/api/v1/study/lock", json={"reason": "database lock"},
                             headers=api.headers("dm"))
    assert locked.status_code in (200, 201), locked.text
    count, _ = api.ledger_state()

    answer = _post(api, [_item("HCC-01-001", f"d{n}", story.follow_up(f"2026-01-2{n}"))
                         for n in range(3)])

    assert [r["status"] for r in answer.json()["results"]] == [409, 409, 409]
    assert api.ledger_state()[0] == count


def test_the_batch_itself_must_be_a_list_of_1_to_500_events(api: Api) -> None:
    count, _ = api.ledger_state()
    body: object
    for body in ({"events": []}, {"events": [{}] * 501}, {"events": "x"}, {}, []):
        answer = api.client.post(BATCH, json=body, headers=api.headers("coord1"))
        assert answer.status_code == 422, (body if len(str(body)) < 80 else "501", answer.text)
    assert api.ledger_state()[0] == count


def test_a_role_that_may_not_enter_data_may_not_post_a_batch(api: Api) -> None:
    answer = _post(api, [_item("HCC-01-001", "m", story.enrollment())], user="monitor1")
    assert answer.status_code == 403
