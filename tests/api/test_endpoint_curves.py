"""`GET /api/v1/endpoints/curves` through the real app, on both stores: the curves are the ones
behind `GET /api/v1/endpoints` (a client reading the median off a curve gets the report's; n
and events are the report's), for the caller's sites only, as of a recorded time; bad input
is refused by name and nothing is ever written.

The small trial is tests/api/test_endpoints_api.py's (its module docstring has the hand
count); the larger one is the synthetic trial of services/seed/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from domain.protocol import DAYS_PER_MONTH
from services.api.curve_schemas import CurvesOut
from services.seed import seed_trial
from tests.api.conftest import Api
from tests.api.test_endpoints_api import CUTOFF, MRECIST, RECIST, endpoints, small_trial

CURVES = "/api/v1/endpoints/curves"
ENDPOINTS = ("os", "pfs", "dor")
SEEDED_CUTOFF = "2026-06-30"
API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def curves(api: Api, criteria: str, user: str = "dm", **params: Any) -> dict[str, Any]:
    response = api.get(CURVES, user=user, criteria=criteria, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def median_months(curve: dict[str, Any]) -> float | None:
    """What a client reads off the points: the first day with S <= 0.5 (on a flat at exactly
    0.5, the midpoint to the next event day, else to the last day: docs/rules.md 17), in
    months to 1 decimal as /endpoints prints it."""
    points = curve["points"]
    for index, point in enumerate(points):
        if point["survival"] <= 0.5 + 1e-9:
            day = point["day"]
            if abs(point["survival"] - 0.5) <= 1e-9:
                ends = [p["day"] for p in points[index + 1:] if p["events"]] or [points[-1]["day"]]
                day = (day + ends[0]) / 2
            return round(float(day) / DAYS_PER_MONTH, 1)
    return None


def assert_the_reports_curves(report: dict[str, Any], drawn: dict[str, Any]) -> None:
    """Same query, same answer: header, scope, and per endpoint n, events, censored, median."""
    for field in ("criteria", "cutoff", "empty", "note"):
        assert drawn[field] == report[field], field
    assert {**drawn["scope"], "as_of": None, "summary": None} == {
        **report["scope"], "as_of": None, "summary": None}
    for endpoint in ENDPOINTS:
        curve, block = drawn["curves"][endpoint], report[endpoint]
        assert (curve["n"], curve["events"]) == (block["n"], block["events"]), endpoint
        assert sum(p["censored"] for p in curve["points"]) == block["censored"], endpoint
        assert median_months(curve) == block["median_months"], endpoint
        assert curve["risk_table"][0] == {"day": 0, "at_risk": block["n"]}, endpoint
        if curve["points"]:
            assert curve["points"][0] == {"day": 0, "survival": 1.0, "lower": 1.0, "upper": 1.0,
                                          "at_risk": block["n"], "events": 0, "censored": 0}


def test_the_seeded_trials_curves_are_the_endpoints_reports(api: Api) -> None:
    seed_trial(api.client.app.state.ledger, participants=30, seed=11)  # type: ignore[attr-defined]
    before = api.ledger_state()
    reached = set()
    for criteria in (RECIST, MRECIST):
        for cutoff in (SEEDED_CUTOFF, "2025-12-31"):
            report = endpoints(api, criteria, cutoff=cutoff)
            drawn = curves(api, criteria, cutoff=cutoff, risk_table_every=30)
            assert_the_reports_curves(report, drawn)
            reached |= {e for e in ENDPOINTS if report[e]["median_months"] is not None}
            for curve in drawn["curves"].values():
                days = [p["day"] for p in curve["points"]]
                assert days == sorted(set(days))
                assert all(a["survival"] >= b["survival"]
                           for a, b in zip(curve["points"], curve["points"][1:]))
                assert [r["day"] for r in curve["risk_table"]] == list(
                    range(0, days[-1] + 1, 30))
    assert reached == set(ENDPOINTS)  # the medians compared are real numbers, not just nulls
    mine = curves(api, MRECIST, user="monitor1", cutoff=SEEDED_CUTOFF)
    assert_the_reports_curves(endpoints(api, MRECIST, user="monitor1", cutoff=SEEDED_CUTOFF),
                              mine)
    everyone = curves(api, MRECIST, cutoff=SEEDED_CUTOFF)
    assert mine["scope"]["sites"] == ["S01"] and everyone["scope"]["sites"] == "all"
    assert 0 < mine["curves"]["os"]["n"] < everyone["curves"]["os"]["n"]
    assert api.ledger_state() == before


def test_the_small_trials_pfs_curve_is_the_hand_count(api: Api) -> None:
    small_trial(api)
    pfs = curves(api, RECIST, cutoff=CUTOFF, risk_table_every=30)["curves"]["pfs"]
    # PFS days: censored 1, 1 (no adequate assessment), 85, 85; events 43 and 169.
    rows = [(p["day"], p["survival"], p["at_risk"], p["events"], p["censored"])
            for p in pfs["points"]]
    assert rows == [(0, 1.0, 6, 0, 0), (1, 1.0, 6, 0, 2), (43, 0.75, 4, 1, 0),
                    (85, 0.75, 3, 0, 2), (169, 0.0, 1, 1, 0)]
    assert (pfs["points"][-1]["lower"], pfs["points"][-1]["upper"]) == (None, None)
    assert pfs["points"][2]["lower"] == pytest.approx(0.1279, abs=5e-5)  # log-log Greenwood
    assert pfs["censor_marks"] == [1, 85]
    assert pfs["risk_table"] == [{"day": d, "at_risk": n} for d, n in
                                 ((0, 6), (30, 4), (60, 3), (90, 1), (120, 1), (150, 1))]
    default = curves(api, RECIST, cutoff=CUTOFF)["curves"]["pfs"]["risk_table"]
    assert [r["day"] for r in default] == [0, 90]


def test_a_site_user_sees_only_their_sites(api: Api) -> None:
    small_trial(api)
    seen = curves(api, RECIST, user="monitor1", cutoff=CUTOFF)
    assert seen["scope"]["sites"] == ["S01"]
    assert seen["scope"]["participants"] == 6  # HCC-02-001 at S02 is not among them
    assert (seen["curves"]["pfs"]["n"], seen["curves"]["dor"]["n"]) == (5, 1)
    assert_the_reports_curves(endpoints(api, RECIST, user="monitor1", cutoff=CUTOFF), seen)
    other = curves(api, RECIST, user="coord2", cutoff=CUTOFF)
    assert other["curves"]["pfs"]["n"] == 1 and "S01" not in json.dumps(other)
    assert api.get(CURVES, user="admin", criteria=RECIST).status_code == 403
    assert api.client.get(CURVES, params={"criteria": RECIST}).status_code == 401


def test_a_past_as_of_or_a_declared_cutoff_gives_that_curve(api: Api) -> None:
    before_pd = small_trial(api)
    now = curves(api, RECIST, cutoff=CUTOFF)["curves"]["pfs"]
    then = curves(api, RECIST, cutoff=CUTOFF, as_of=before_pd)
    assert then["as_of"] == before_pd
    assert_the_reports_curves(endpoints(api, RECIST, cutoff=CUTOFF, as_of=before_pd), then)
    assert (now["events"], then["curves"]["pfs"]["events"]) == (2, 1)
    assert then["curves"]["pfs"]["points"][-1]["day"] == 85  # HCC-01-001 censored at week 12
    declared = api.client.post("/api/v1/study/cutoffs", headers=api.headers("dm"), json={
        "name": "interim", "cutoff_on": "2026-06-30", "reason": "interim analysis"})
    assert declared.status_code == 201, declared.text
    by_name = curves(api, RECIST, cutoff="interim")
    assert by_name == {**curves(api, RECIST, cutoff="2026-06-30"), "as_of": by_name["as_of"],
                       "scope": by_name["scope"]}
    assert by_name["curves"]["pfs"]["events"] == 1
    empty = curves(api, RECIST, as_of="2001-01-01T00:00:00Z")
    assert empty["empty"] is True and "nothing was recorded" in empty["note"]
    assert all(c["n"] == 0 and c["points"] == [] for c in empty["curves"].values())


@pytest.mark.parametrize(("params", "loc"), [
    ({"criteria": RECIST, "risk_table_every": "0"}, "query.risk_table_every"),
    ({"criteria": RECIST, "risk_table_every": "3651"}, "query.risk_table_every"),
    ({"criteria": RECIST, "risk_table_every": "1.5"}, "query.risk_table_every"),
    ({"criteria": RECIST, "risk_table_every": "ninety"}, "query.risk_table_every"),
    ({"criteria": RECIST, "risk_table_every": ""}, "query.risk_table_every"),
    ({}, "query.criteria"),
    ({"criteria": "RECIST"}, "query.criteria"),
    ({"criteria": RECIST, "cutoff": "final"}, "query.cutoff"),
    ({"criteria": RECIST, "as_of": "yesterday"}, "query.as_of"),
    ({"criteria": RECIST, "every": "30"}, "query.every"),
    ({"criterion": RECIST}, "query.criterion"),
], ids=lambda value: json.dumps(value) if isinstance(value, dict) else value)
def test_bad_input_is_refused_by_name_and_writes_nothing(
        api: Api, params: dict[str, str], loc: str) -> None:
    small_trial(api)
    before = api.ledger_state()
    response = api.get(CURVES, user="dm", **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert loc in [error["loc"] for error in response.json()["errors"]], response.text
    assert api.ledger_state() == before


def test_an_unknown_parameter_is_told_the_known_ones(api: Api) -> None:
    response = api.get(CURVES, user="dm", criteria=RECIST, risk_table_evry="30")
    (error,) = response.json()["errors"]
    assert error["loc"] == "query.risk_table_evry"
    assert "did you mean risk_table_every?" in error["msg"]
    assert "criteria, cutoff, as_of, risk_table_every" in error["msg"]


def test_the_documented_example_is_an_answer_of_this_schema() -> None:
    text = API_DOC.read_text()
    section = text[text.index("#### Curves for plots"):]
    example = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert example is not None
    parsed = CurvesOut.model_validate(json.loads(example.group(1)))
    assert set(parsed.curves.model_dump()) == set(ENDPOINTS)
