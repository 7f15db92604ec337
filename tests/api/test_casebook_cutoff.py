"""The casebook at a clinical cutoff, through the real app on both stores.

HCC-01-001: baseline 2026-01-12 (RECIST 50 mm, mRECIST 40 mm), TACE 2026-01-14, a partial
response on 2026-02-25 confirmed on 2026-04-08, then, after the cutoff D = 2026-06-30, a scan
showing progression (2026-07-15) and death (2026-08-01). At D the casebook shows neither as an
outcome, and its best overall response and PFS are exactly what `/endpoints?cutoff=D` counts
for the participant; without a cutoff it shows both.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import story
from tests.api.conftest import Api

PID = "HCC-01-001"
CASEBOOK = f"/api/v1/participants/{PID}"
D = "2026-06-30"
RECIST, MRECIST = "RECIST 1.1", "mRECIST"
DAYS_PER_MONTH = 30.4375


def ok(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(PID, body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def read(api: Api, user: str = "coord1", **params: Any) -> dict[str, Any]:
    response = api.get(CASEBOOK, user=user, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def course(api: Api) -> str:
    """The story above; returns the recorded time of the last event before the late scan."""
    ok(api, story.enrollment())
    ok(api, story.scan("2026-01-12", baseline=True, recist_mm=[50], mrecist_mm=[40]))
    ok(api, story.tace("2026-01-14"))
    ok(api, story.scan("2026-02-25", baseline=False, recist_mm=[30], mrecist_mm=[20]))
    ok(api, story.adverse_event("AE1", "2026-03-01"))
    before = ok(api, story.scan("2026-04-08", baseline=False, recist_mm=[30], mrecist_mm=[18]))
    ok(api, story.scan("2026-07-15", baseline=False, recist_mm=[45], mrecist_mm=[40]))
    ok(api, story.ae_resolved("AE1", "2026-07-20"))
    ok(api, story.death("2026-08-01"))
    return str(before["recorded_at"])


def endpoints(api: Api, criteria: str, **params: Any) -> dict[str, Any]:
    response = api.get("/api/v1/endpoints", user="dm", criteria=criteria, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_counted_as_endpoints(api: Api, book: dict[str, Any], **params: Any) -> None:
    """One participant: the endpoints' counts are the casebook's own outcome at D."""
    for criterion in (RECIST, MRECIST):
        report = endpoints(api, criterion, cutoff=D, **params)
        bor = book["best_overall_response"][criterion]["confirmed"]
        assert report["best_overall_response"] == {c: int(c == bor) for c in
                                                   ("CR", "PR", "SD", "PD", "NE")}
        for name in ("pfs", "os"):
            mine = (book["time_to_event"][name][criterion] if name == "pfs"
                    else book["time_to_event"]["os"])
            assert (report[name]["events"], report[name]["censored"]) == (
                int(mine["event"]), int(not mine["event"]))
            if mine["event"]:
                assert report[name]["median_months"] == pytest.approx(
                    mine["days"] / DAYS_PER_MONTH, abs=0.01)


def test_at_a_cutoff_nothing_after_it_is_an_outcome(api: Api) -> None:
    course(api)
    everything = read(api)
    assert everything["cutoff"] is None
    assert everything["died_on"] == "2026-08-01" and everything["status"] == "dead"
    assert everything["time_to_event"]["pfs"][RECIST]["event"] is True
    assert everything["best_overall_response"][RECIST]["first_pd_on"] == "2026-07-15"

    at_d = read(api, cutoff=D)
    assert at_d["cutoff"] == D
    assert at_d["died_on"] is None and at_d["status"] == "on_treatment"
    assert [s["occurred_on"] for s in at_d["tumor_assessments"]] == [
        "2026-01-12", "2026-02-25", "2026-04-08"]
    assert {row["occurred_on"] for row in at_d["assessments"]} == {
        "2026-01-12", "2026-02-25", "2026-04-08"}
    assert at_d["adverse_events"][0]["resolved_on"] is None
    assert at_d["last_known_alive_on"] == "2026-04-08"
    os = at_d["time_to_event"]["os"]
    assert os["event"] is False and os["censor_reason"] == "alive at cutoff"
    for criterion in (RECIST, MRECIST):
        pfs = at_d["time_to_event"]["pfs"][criterion]
        assert pfs["event"] is False
        assert at_d["best_overall_response"][criterion]["first_pd_on"] is None
    assert at_d["best_overall_response"][RECIST]["confirmed"] == "PR"
    assert at_d["version"] == everything["version"]
    assert_counted_as_endpoints(api, at_d)


def test_a_cutoff_combines_with_as_of_and_a_declared_name(api: Api) -> None:
    before_late_scan = course(api)
    then = read(api, cutoff=D, as_of=before_late_scan)
    assert then["as_of"] == before_late_scan and then["cutoff"] == D
    assert then["version"] == 6
    assert_counted_as_endpoints(api, then, as_of=before_late_scan)
    declared = api.client.post("/api/v1/study/cutoffs", headers=api.headers("dm"), json={
        "name": "interim", "cutoff_on": D, "reason": "interim analysis"})
    assert declared.status_code == 201, declared.text
    by_name = read(api, cutoff="interim")
    assert by_name == {**read(api, cutoff=D)}
    before_d = read(api, cutoff="2026-02-01")
    assert [s["occurred_on"] for s in before_d["tumor_assessments"]] == ["2026-01-12"]
    assert before_d["best_overall_response"][RECIST]["confirmed"] == "NE"
    assert before_d["time_to_event"]["pfs"][RECIST]["censor_reason"] == (
        "no adequate post-baseline assessment")


@pytest.mark.parametrize("cutoff", ["2026-13-01", "next friday", "", "2026-06-30T00:00:00"])
def test_a_bad_cutoff_is_422_naming_it_and_writes_nothing(api: Api, cutoff: str) -> None:
    course(api)
    before = api.ledger_state()
    response = api.get(CASEBOOK, cutoff=cutoff)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"] for e in response.json()["errors"]] == ["query.cutoff"]
    assert api.ledger_state() == before


def test_a_cutoff_tells_a_stranger_nothing(api: Api) -> None:
    course(api)
    other = api.get(CASEBOOK, user="coord2", cutoff=D)
    unknown = api.get("/api/v1/participants/HCC-01-404", user="coord2", cutoff=D)
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace(PID, "X") == unknown.json()["detail"].replace(
        "HCC-01-404", "X")
