"""Edit checks open and close system queries by themselves, through the reactions runner.

The story: a 400 mm target lesion (a typo for 40) is recorded; the runner opens a system
query on that entry and field; the site corrects it to 40; the runner closes the query,
citing the correction; as of before the correction the query reads as open."""

from __future__ import annotations

import time
from typing import Any

from services.monitoring.runner import ReactionRunner, run_reactions
from services.worker import BackgroundWorker
from tests import story
from tests.api.conftest import Api

PID = "HCC-01-001"
FIELD = "reads/RECIST 1.1/targets/0/diameter_mm"


def _run(api: Api) -> int:
    app: Any = api.client.app
    return run_reactions(app.state.ledger, app.state.engine)


def _post(api: Api, body: dict[str, Any], user: str = "coord1") -> str:
    response = api.post(PID, body, user=user)
    assert response.status_code == 201, response.text
    event_id: str = response.json()["event_id"]
    return event_id


def _queries(api: Api, user: str = "monitor1", **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/queries", user, **params)
    assert response.status_code == 200, response.text
    queries: list[dict[str, Any]] = response.json()["queries"]
    return queries


def _typo_story(api: Api) -> tuple[str, str]:
    """Enrol and record the baseline scan with 400 mm (meant: 40); the scan's event id and
    its data."""
    _post(api, story.enrollment())
    return _post(api, story.scan("2026-01-08", baseline=True, recist_mm=[400, 30],
                                 mrecist_mm=[35, 25])), PID


def test_a_typo_opens_a_system_query_and_its_correction_closes_it(api: Api) -> None:
    scan, _ = _typo_story(api)
    assert _queries(api) == []  # nothing until the runner has seen the event
    _run(api)
    (query,) = _queries(api)
    assert (query["event_id"], query["field"], query["state"]) == (scan, FIELD, "open")
    assert (query["origin"], query["source"], query["opened_by"]) == ("EC-TU-01", "system",
                                                                      "system")
    assert "400 mm is above 200 mm" in query["text"] and query["site_id"] == "S01"
    opened_at = query["opened_at"]

    fixed = story.scan("2026-01-08", baseline=True, recist_mm=[40, 30],
                       mrecist_mm=[35, 25])["data"]
    correction = _post(api, story.correction(scan, story.today(), fixed))
    still_open = _queries(api)[0]
    assert still_open["state"] == "open"  # the runner has not seen the correction yet
    _run(api)
    (closed,) = _queries(api)
    assert closed["state"] == "closed" and closed["query_id"] == query["query_id"]
    last = closed["history"][-1]
    assert (last["action"], last["by"], last["role"], last["cites"]) == (
        "closed", "system", "system", correction)
    assert f"EntryCorrected {correction}" in last["text"]

    before = api.get(f"/api/v1/queries/{query['query_id']}", "monitor1",
                     as_of=last["recorded_at"])
    assert before.json()["state"] == "closed"
    just_before = _queries(api, as_of=opened_at)
    assert [q["state"] for q in just_before] == ["open"]
    audit = api.get("/api/v1/audit-trail", "auditor", event_type="QueryClosed").json()
    assert [e["recorded_by"] for e in audit["entries"]] == ["system"]


def test_as_of_before_the_correction_the_query_is_open(api: Api) -> None:
    scan, _ = _typo_story(api)
    _run(api)
    query = _queries(api)[0]
    fixed = story.scan("2026-01-08", baseline=True, recist_mm=[40, 30],
                       mrecist_mm=[35, 25])["data"]
    _post(api, story.correction(scan, story.today(), fixed))
    _run(api)
    closed_at = _queries(api)[0]["history"][-1]["recorded_at"]
    correction_at = api.get(f"/api/v1/participants/{PID}/events", "coord1").json()[-1][
        "recorded_at"]
    assert correction_at < closed_at
    then = api.get(f"/api/v1/queries/{query['query_id']}", "monitor1", as_of=correction_at)
    assert then.status_code == 200 and then.json()["state"] == "open"
    summary = api.get("/api/v1/queries/summary", "monitor1", as_of=correction_at).json()
    assert summary["sites"][0]["states"]["open"] == 1
    assert api.get("/api/v1/queries/summary", "monitor1").json()["sites"][0]["states"][
        "closed"] == 1


def test_running_the_checks_again_opens_nothing_twice(api: Api) -> None:
    _typo_story(api)
    _run(api)
    app: Any = api.client.app
    count = app.state.ledger.store.count()
    rerun = ReactionRunner(app.state.ledger, app.state.engine, name="a-second-runner")
    assert rerun.catch_up() > 0  # every event seen again from the start
    assert app.state.ledger.store.count() == count
    assert len(_queries(api)) == 1


def test_a_correction_that_keeps_the_typo_leaves_the_query_open(api: Api) -> None:
    scan, _ = _typo_story(api)
    _run(api)
    same = story.scan("2026-01-08", baseline=True, recist_mm=[400, 31],
                      mrecist_mm=[35, 25])["data"]
    _post(api, story.correction(scan, story.today(), same))
    _run(api)
    assert [q["state"] for q in _queries(api)] == ["open"]


def test_a_person_closing_a_system_query_is_final_for_that_value(api: Api) -> None:
    scan, _ = _typo_story(api)
    _run(api)
    query = _queries(api)[0]
    closed = api.client.post(f"/api/v1/queries/{query['query_id']}/close",
                             json={"text": "confirmed against the CT report"},
                             headers=api.headers("monitor1"))
    assert closed.status_code == 200, closed.text
    other = story.scan("2026-01-08", baseline=True, recist_mm=[400, 32],
                       mrecist_mm=[35, 25])["data"]
    _post(api, story.correction(scan, story.today(), other))
    _run(api)
    assert [q["state"] for q in _queries(api)] == ["closed"]


def test_a_grade_5_event_is_queried_until_the_death_is_recorded(api: Api) -> None:
    _post(api, story.enrollment())
    ae = _post(api, story.adverse_event("AE1", "2026-02-01", grade=5))
    _run(api)
    queries = _queries(api)
    assert {(q["origin"], q["event_id"]) for q in queries} == {("EC-AE-01", ae),
                                                               ("EC-AE-02", ae)}
    death = _post(api, story.death("2026-02-01"))
    _run(api)
    states = {q["origin"]: q for q in _queries(api)}
    assert states["EC-AE-01"]["state"] == "closed"
    assert states["EC-AE-01"]["history"][-1]["cites"] == death
    assert states["EC-AE-02"]["state"] == "open"


def test_a_participant_id_of_another_site_is_queried_at_enrolment(api: Api) -> None:
    response = api.post("HCC-03-900", story.enrollment(site_id="S01"))
    assert response.status_code == 201, response.text
    _run(api)
    (query,) = _queries(api)
    assert (query["origin"], query["field"], query["participant_id"]) == (
        "EC-EN-01", "site_id", "HCC-03-900")
    assert _queries(api, "coord2") == []  # another site's staff see nothing of it


def test_the_background_worker_runs_the_checks_beside_the_projector(api: Api) -> None:
    _typo_story(api)
    settings: Any = api.client.app.state.settings  # type: ignore[attr-defined]
    worker = BackgroundWorker(settings, interval=0.05, checkpoint_every=0).start()
    try:
        assert "reactions-worker" in [thread.name for thread in worker.threads]
        deadline = time.monotonic() + 30
        while not _queries(api) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert [q["origin"] for q in _queries(api)] == ["EC-TU-01"]
