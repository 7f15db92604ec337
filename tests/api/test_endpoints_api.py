"""Endpoints and safety tables through the real app, on both stores, for a small trial.

Seven participants, all TACE on 2026-01-14 after a baseline scan on 2026-01-12; follow-ups at
week 6 (2026-02-25, day 43), week 12 (2026-04-08, day 85) and week 24 (2026-07-01, day 169):

| id | site | RECIST 1.1 (mm) | mRECIST (mm) | BOR R / M | other |
|---|---|---|---|---|---|
| HCC-01-001 | S01 | 50 -> 30, 30, 40 | 50 -> 20, 0, 15 | PR / PR (PD wk 24) | AE grade 2 -> 3 |
| HCC-01-002 | S01 | 40 -> 36, 36 | 40 -> 20, 20 | SD / PR | |
| HCC-01-003 | S01 | 60 -> 80 | 60 -> 80 | PD / PD | SAE, drug stopped; died 04-01 |
| HCC-01-004 | S01 | 50, no scan | 50, no scan | NE / NE | contact 03-01 |
| HCC-02-001 | S02 | 50 -> 30, 30 | 50 -> 30, 30 | PR / PR | RCCEP grade 1 |
| HCC-01-006 | S01 | - | - | not treated | |
| HCC-01-007 | S01 | no targets | no targets | not evaluable | |
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app as cli
from tests import story
from tests.api.conftest import Api

ENDPOINTS = "/api/v1/endpoints"
SAFETY = "/api/v1/safety"
RECIST, MRECIST = "RECIST 1.1", "mRECIST"
CUTOFF = "2026-11-01"
WEEK_6, WEEK_12, WEEK_24 = "2026-02-25", "2026-04-08", "2026-07-01"


def ok(api: Api, pid: str, body: dict[str, Any], user: str = "coord1") -> dict[str, Any]:
    response = api.post(pid, body, user=user)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def start(api: Api, pid: str, recist: list[float], mrecist: list[float], user: str = "coord1",
          site: str = "S01") -> None:
    ok(api, pid, story.enrollment(site_id=site), user)
    ok(api, pid, story.scan("2026-01-12", baseline=True, recist_mm=recist, mrecist_mm=mrecist),
       user)
    ok(api, pid, story.tace("2026-01-14"), user)


def follow(api: Api, pid: str, on: str, recist: list[float], mrecist: list[float],
           user: str = "coord1") -> dict[str, Any]:
    return ok(api, pid, story.scan(on, baseline=False, recist_mm=recist, mrecist_mm=mrecist),
              user)


def small_trial(api: Api) -> str:
    """The trial in the module docstring; returns recorded_at of the event before P1's PD."""
    start(api, "HCC-01-001", [50], [50])
    follow(api, "HCC-01-001", WEEK_6, [30], [20])
    follow(api, "HCC-01-001", WEEK_12, [30], [0])
    ok(api, "HCC-01-001", story.adverse_event("AE1", "2026-02-01", grade=2))
    ok(api, "HCC-01-001", story.ae_update("AE1", "2026-03-01", grade=3))

    start(api, "HCC-01-002", [40], [40])
    follow(api, "HCC-01-002", WEEK_6, [36], [20])
    follow(api, "HCC-01-002", WEEK_12, [36], [20])

    start(api, "HCC-01-003", [60], [60])
    ok(api, "HCC-01-003", story.camrelizumab("2026-01-15"))
    ast = story.adverse_event("AE1", "2026-02-10", term="Aspartate aminotransferase increased",
                              grade=3, related_to=("camrelizumab",))
    ast["data"]["serious"] = True
    ok(api, "HCC-01-003", ast)
    ok(api, "HCC-01-003", {"type": "DoseModified", "occurred_on": "2026-02-12",
                           "data": {"drug": "camrelizumab", "action": "discontinued",
                                    "reason": "hepatitis", "adverse_event_id": "AE1"}})
    follow(api, "HCC-01-003", WEEK_6, [80], [80])
    ok(api, "HCC-01-003", story.death("2026-04-01"))

    start(api, "HCC-01-004", [50], [50])
    ok(api, "HCC-01-004", story.follow_up("2026-03-01"))

    start(api, "HCC-02-001", [50], [50], user="coord2", site="S02")
    follow(api, "HCC-02-001", WEEK_6, [30], [30], user="coord2")
    follow(api, "HCC-02-001", WEEK_12, [30], [30], user="coord2")
    ok(api, "HCC-02-001", story.adverse_event(
        "AE1", "2026-03-01", term="Skin and subcutaneous tissue disorders - Other, specify: RCCEP",
        grade=1, related_to=("camrelizumab",)), user="coord2")

    ok(api, "HCC-01-006", story.enrollment())
    start(api, "HCC-01-007", [], [])
    last = ok(api, "HCC-01-007", story.follow_up("2026-01-14"))
    follow(api, "HCC-01-001", WEEK_24, [40], [15])  # PD under both criteria
    return str(last["recorded_at"])


def endpoints(api: Api, criteria: str, user: str = "dm", **params: Any) -> dict[str, Any]:
    response = api.get(ENDPOINTS, user=user, criteria=criteria, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_endpoints_for_both_criteria_match_the_hand_count(api: Api) -> None:
    small_trial(api)
    recist = endpoints(api, RECIST, cutoff=CUTOFF)
    assert (recist["criteria"], recist["cutoff"]) == (RECIST, CUTOFF)
    assert recist["as_of"].endswith("Z")
    assert recist["population"] == {"enrolled": 7, "treated": 6, "evaluable": 5}
    assert recist["best_overall_response"] == {"CR": 0, "PR": 2, "SD": 1, "PD": 1, "NE": 1}
    assert recist["orr"] == {"responders": 2, "n": 5, "rate": 0.4, "ci95": [0.0527, 0.8534]}
    assert recist["dcr"] == {"count": 3, "n": 5, "rate": 0.6, "ci95": [0.1466, 0.9473]}
    # PFS: 169 and 43 events; censored 1, 1, 85, 85. KM: S = 3/4 after 43, 0 at 169.
    pfs = recist["pfs"]
    assert (pfs["n"], pfs["events"], pfs["censored"]) == (6, 2, 4)
    assert pfs["median_months"] == round(169 / 30.4375, 1) == 5.6
    # OS: one death (day 78); censored at 169, 85, 47, 85 and 1.
    assert (recist["os"]["events"], recist["os"]["censored"]) == (1, 5)
    # DOR: HCC-01-001 from week 6 to the PD (127 days), HCC-02-001 censored at 43.
    assert (recist["dor"]["n"], recist["dor"]["events"], recist["dor"]["censored"]) == (2, 1, 1)
    assert recist["dor"]["median_months"] == round(127 / 30.4375, 1)

    mrecist = endpoints(api, MRECIST, cutoff=CUTOFF)
    assert mrecist["population"] == recist["population"]
    assert mrecist["best_overall_response"] == {"CR": 0, "PR": 3, "SD": 0, "PD": 1, "NE": 1}
    assert mrecist["orr"] == {"responders": 3, "n": 5, "rate": 0.6, "ci95": [0.1466, 0.9473]}
    assert mrecist["dcr"]["count"] == 3
    assert (mrecist["dor"]["events"], mrecist["dor"]["censored"]) == (1, 2)

    book = api.get("/api/v1/participants/HCC-01-001", user="dm").json()
    assert book["best_overall_response"][MRECIST]["confirmed"] == "PR"
    assert book["best_overall_response"][MRECIST]["unconfirmed"] == "CR"
    assert book["time_to_event"]["pfs"][RECIST] == {"days": 169, "event": True,
                                                    "censor_reason": None}
    assert book["time_to_event"]["dor"][MRECIST] == {"days": 127, "event": True,
                                                     "censor_reason": None}
    week_24 = [row for row in book["assessments"] if row["occurred_on"] == WEEK_24]
    assert [(row["criterion"], row["sum_mm"], row["response"]) for row in week_24] == [
        (RECIST, 40.0, "PD"), (MRECIST, 15.0, "PD")]


def test_a_cutoff_or_an_as_of_before_the_pd_does_not_count_it(api: Api) -> None:
    before_pd = small_trial(api)
    at_cutoff = endpoints(api, RECIST, cutoff="2026-06-30")
    assert (at_cutoff["pfs"]["events"], at_cutoff["pfs"]["censored"]) == (1, 5)
    assert (at_cutoff["dor"]["events"], at_cutoff["dor"]["censored"]) == (0, 2)
    assert at_cutoff["best_overall_response"] == {"CR": 0, "PR": 2, "SD": 1, "PD": 1, "NE": 1}
    as_of = endpoints(api, RECIST, cutoff=CUTOFF, as_of=before_pd)
    assert as_of["as_of"] == before_pd
    assert (as_of["pfs"]["events"], as_of["pfs"]["censored"]) == (1, 5)
    assert as_of["population"] == {"enrolled": 7, "treated": 6, "evaluable": 5}
    # Without a cutoff: today (UTC), or the day of `as_of` when the question is about the past.
    assert endpoints(api, RECIST)["cutoff"] == datetime.now(UTC).date().isoformat()
    assert endpoints(api, RECIST, as_of=before_pd)["cutoff"] == before_pd[:10]


def test_a_monitor_sees_only_the_participants_of_their_sites(api: Api) -> None:
    small_trial(api)
    seen = endpoints(api, RECIST, user="monitor1", cutoff=CUTOFF)
    assert seen["population"] == {"enrolled": 6, "treated": 5, "evaluable": 4}
    assert seen["best_overall_response"] == {"CR": 0, "PR": 1, "SD": 1, "PD": 1, "NE": 1}
    safety = api.get(SAFETY, user="monitor1", cutoff=CUTOFF).json()
    assert safety["treated"] == 5 and safety["tables"]["any_grade"]["participants"] == 2
    assert api.get(ENDPOINTS, user="admin", criteria=RECIST).status_code == 403
    assert api.get(SAFETY, user="admin").status_code == 403


def test_safety_tables_count_participants_at_their_worst_grade(api: Api) -> None:
    small_trial(api)
    response = api.get(SAFETY, user="dm", cutoff=CUTOFF)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["cutoff"], body["treated"]) == (CUTOFF, 6)
    tables = body["tables"]
    assert tables["any_grade"]["participants"] == 3
    assert tables["grade_3_or_higher"]["participants"] == 2
    hypertension = next(row for row in tables["grade_3_or_higher"]["terms"]
                        if row["term"] == "Hypertension")
    assert hypertension["by_worst_grade"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}
    assert tables["serious"]["participants"] == 1
    assert tables["leading_to_discontinuation"]["participants"] == 1
    assert tables["related_to_camrelizumab"]["participants"] == 2
    early = api.get(SAFETY, user="dm", cutoff="2026-02-15").json()
    assert early["tables"]["grade_3_or_higher"]["participants"] == 1  # AE1 of 001 still grade 2


def test_a_baseline_with_six_targets_is_422_and_leaves_the_log_unchanged(api: Api) -> None:
    ok(api, "HCC-01-001", story.enrollment())
    before = api.ledger_state()
    response = api.post("HCC-01-001", story.scan("2026-01-12", baseline=True,
                                                  recist_mm=[20] * 6, mrecist_mm=[20, 20]))
    assert response.status_code == 422, response.text
    body = response.json()
    assert "RECIST 1.1 baseline has 6 target lesions; at most 5 are allowed" in body["detail"]
    assert {"loc": "data.reads.RECIST 1.1",
            "msg": "RECIST 1.1 baseline has 6 target lesions; at most 5 are allowed"
            } in body["errors"]
    assert api.ledger_state() == before

    ok(api, "HCC-01-001", story.scan("2026-01-12", baseline=True, recist_mm=[20],
                                     mrecist_mm=[20]))
    before = api.ledger_state()
    unknown = api.post("HCC-01-001", story.scan(WEEK_6, baseline=False, recist_mm=[20],
                                                mrecist_mm=[20, 10]))
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{
        "loc": "data.reads.mRECIST",
        "msg": "mRECIST follow-up target T2 (liver) is not a baseline target "
               "(baseline targets: T1)"}]
    assert api.ledger_state() == before


@pytest.mark.parametrize("criteria", [None, "RECIST", "recist 1.1"])
def test_criteria_is_required_and_named(api: Api, criteria: str | None) -> None:
    params = {} if criteria is None else {"criteria": criteria}
    response = api.get(ENDPOINTS, user="dm", **params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "'RECIST 1.1' or 'mRECIST'" in detail
    assert response.json()["errors"][0]["loc"] == "query.criteria"


def test_the_cli_prints_the_same_numbers(api: Api, store_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    small_trial(api)
    monkeypatch.setenv("TRIAL_LEDGER_DATABASE_URL", store_url)
    runner = CliRunner()
    as_json = runner.invoke(cli, ["endpoints", "--criteria", MRECIST, "--cutoff", CUTOFF,
                                  "--json"])
    assert as_json.exit_code == 0, as_json.output
    printed = json.loads(as_json.output)
    served = endpoints(api, MRECIST, cutoff=CUTOFF)
    for what_the_api_adds in ("scope", "empty", "note"):
        served.pop(what_the_api_adds)
    assert {**printed, "as_of": None} == {**served, "as_of": None}
    table = runner.invoke(cli, ["endpoints", "--criteria", MRECIST, "--cutoff", CUTOFF])
    assert table.exit_code == 0, table.output
    assert "3/5 = 60.0%" in table.output and "14.7% to 94.7%" in table.output
    bad = runner.invoke(cli, ["endpoints", "--criteria", "WHO", "--cutoff", CUTOFF])
    assert bad.exit_code == 2
