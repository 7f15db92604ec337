"""The schedule reads through the API, on both stores: one participant's visits on a clinical
date and as of a recorded time, the per-site missing-data report, who may see what, and bad
input refused with the field named.

Treatment starts 2026-01-14 (TACE and the first camrelizumab infusion): scans are expected on
2026-02-25 (window 02-18..03-04), 2026-04-08 (window 04-01..04-15, overdue to 05-12), ...
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import story
from tests.api.conftest import Api

S01, S02 = "HCC-01-001", "HCC-02-001"
SCHEDULE = "/api/v1/participants/{}/schedule"
MISSING = "/api/v1/schedule/missing-data"


def treated(api: Api, pid: str, site: str = "S01", user: str = "dm") -> str:
    """Enrolled, baseline scanned, treated; the last entry's recorded time."""
    recorded_at = ""
    for body in (story.enrollment(site_id=site),
                 story.scan("2026-01-12", baseline=True, recist_mm=[50], mrecist_mm=[50]),
                 story.tace("2026-01-14"), story.camrelizumab("2026-01-14")):
        response = api.post(pid, body, user=user)
        assert response.status_code == 201, response.text
        recorded_at = response.json()["recorded_at"]
    return recorded_at


def imaging(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = next(a for a in answer.json()["activities"]
                                 if a["activity"] == "tumour_assessment")
    return found


def statuses(activity: dict[str, Any]) -> list[tuple[int, str]]:
    return [(v["number"], v["status"]) for v in activity["visits"]]


def test_a_participants_visits_on_a_clinical_date_and_as_of_a_recorded_time(api: Api) -> None:
    before_scan = treated(api, S01)
    scanned = api.post(S01, story.scan("2026-02-25", baseline=False, recist_mm=[40],
                                       mrecist_mm=[40]))
    assert scanned.status_code == 201, scanned.text

    seen = imaging(api.get(SCHEDULE.format(S01), on="2026-03-20"))
    assert statuses(seen) == [(1, "done"), (2, "expected")]
    first = seen["visits"][0]
    assert (first["target_on"], first["opens_on"], first["closes_on"]) == (
        "2026-02-25", "2026-02-18", "2026-03-04")
    assert first["matched"] == {"event_id": scanned.json()["event_id"],
                                "occurred_on": "2026-02-25", "on_time": True}
    assert seen["counts"] == {"expected": 1, "due": 0, "overdue": 0, "missed": 0, "done": 1}
    assert statuses(imaging(api.get(SCHEDULE.format(S01), on="2026-04-20"))) == [
        (1, "done"), (2, "overdue"), (3, "expected")]
    assert statuses(imaging(api.get(SCHEDULE.format(S01), on="2026-05-13"))) == [
        (1, "done"), (2, "missed"), (3, "due"), (4, "expected")]
    # As recorded before the scan was entered, the same clinical date shows it not done.
    then = api.get(SCHEDULE.format(S01), on="2026-03-20", as_of=before_scan)
    assert statuses(imaging(then)) == [(1, "overdue"), (2, "expected")]
    assert then.json()["as_of"] == before_scan and then.json()["on"] == "2026-03-20"


def test_every_activity_is_listed_and_on_defaults_to_the_date_of_as_of(api: Api) -> None:
    recorded_at = treated(api, S01)
    then = api.get(SCHEDULE.format(S01), as_of=recorded_at)
    assert then.status_code == 200 and then.json()["on"] == recorded_at[:10], then.text
    early = api.get(SCHEDULE.format(S01), as_of="2026-01-20T00:00:00Z")
    assert early.status_code == 404  # nothing was recorded then: not enrolled as of then
    now = api.get(SCHEDULE.format(S01))
    assert now.status_code == 200, now.text
    body = now.json()
    assert [a["activity"] for a in body["activities"]] == [
        "tumour_assessment", "camrelizumab", "apatinib", "follow_up"]
    assert body["treatment_start_on"] == "2026-01-14" and body["site_id"] == "S01"
    camrelizumab = body["activities"][1]
    assert camrelizumab["visits"][0]["status"] == "done"
    assert camrelizumab["interval_days"] == 21


def test_another_sites_participant_is_the_same_404_as_an_unknown_one(api: Api) -> None:
    treated(api, S01)
    treated(api, S02, site="S02")
    assert api.get(SCHEDULE.format(S01), user="monitor1").status_code == 200
    foreign = api.get(SCHEDULE.format(S02), user="monitor1")
    unknown = api.get(SCHEDULE.format("HCC-09-999"), user="monitor1")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"] == unknown.json()["detail"].replace("HCC-09-999", S02)
    assert api.get(SCHEDULE.format(S01), user="coord2").status_code == 404
    assert api.get(SCHEDULE.format(S01), user="admin").status_code == 403


def test_the_missing_data_report_covers_only_the_callers_sites(api: Api) -> None:
    treated(api, S01)
    treated(api, "HCC-01-002")
    treated(api, S02, site="S02")
    api.post(S01, story.scan("2026-02-25", baseline=False, recist_mm=[40], mrecist_mm=[40]))
    everywhere = api.get(MISSING, user="dm", on="2026-03-20")
    assert everywhere.status_code == 200, everywhere.text
    body = everywhere.json()
    assert [(s["site_id"], s["participants"]) for s in body["sites"]] == [("S01", 2), ("S02", 1)]
    scans = body["sites"][0]["activities"][0]
    assert (scans["activity"], scans["overdue"], scans["missed"]) == ("tumour_assessment", 1, 0)
    assert scans["participants"] == [{"participant_id": "HCC-01-002", "overdue": [1],
                                      "missed": []}]
    mine = api.get(MISSING, user="monitor1", on="2026-03-20").json()
    assert [s["site_id"] for s in mine["sites"]] == ["S01"]
    assert mine["scope"]["sites"] == ["S01"] and mine["scope"]["participants"] == 2
    assert mine["sites"] == body["sites"][:1]
    only = api.get(MISSING, user="dm", on="2026-03-20", site_id="S02").json()
    assert [s["site_id"] for s in only["sites"]] == ["S02"]


def test_a_site_not_yours_answers_as_an_unknown_site(api: Api) -> None:
    treated(api, S02, site="S02")
    foreign = api.get(MISSING, user="monitor1", site_id="S02")
    unknown = api.get(MISSING, user="monitor1", site_id="S77")
    assert foreign.status_code == unknown.status_code == 200
    assert foreign.json()["sites"] == unknown.json()["sites"] == []
    assert foreign.json()["empty"] and unknown.json()["empty"]
    assert foreign.json()["note"] == unknown.json()["note"].replace("S77", "S02")
    counted = [{k: answer.json()["scope"][k] for k in ("sites", "participants", "enrolled")}
               for answer in (foreign, unknown)]
    assert counted[0] == counted[1] == {"sites": ["S01"], "participants": 0, "enrolled": 0}


@pytest.mark.parametrize(("params", "where"), [
    ({"on": "2026-02-30"}, "query.on"), ({"on": "yesterday"}, "query.on"),
    ({"on": "20260301"}, "query.on"), ({"on": "1999-01-01"}, "query.on"),
    ({"on": "9999-12-31"}, "query.on"), ({"site": "s01;drop"}, "query.site"),
    ({"as_of": "not a time"}, "query.as_of"), ({"cutoff": "2026-01-01"}, "query.cutoff"),
])
def test_bad_input_is_refused_with_the_field_named(api: Api, params: dict[str, str],
                                                  where: str) -> None:
    treated(api, S01)
    before = api.ledger_state()
    for path in (SCHEDULE.format(S01), MISSING):
        if "site" in params and path != MISSING:
            continue
        answer = api.get(path, user="dm", **params)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert where in [e["loc"] for e in answer.json()["errors"]], answer.text
    assert api.ledger_state() == before
