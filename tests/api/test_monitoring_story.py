"""A monitor's week, from the monitor's side, each step read as of the moment before it and the
moment after it:

1. a site records a baseline scan with a 400 mm target lesion (a typo for 40): the edit checks
   open a system query on that field by themselves;
2. the site answers with a correction: the check passes and closes the query, citing it;
3. the monitor verifies the corrected scan against source;
4. the audit-trail review shows the dose entered 49 days after it was given, and the monitor
   records a signed review of it;
5. the visit schedule shows the first follow-up scan as the next visit due or overdue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.monitoring.runner import run_reactions
from tests import story
from tests.api.conftest import PASSWORD, Api

PID = "HCC-01-001"
FIELD = "reads/RECIST 1.1/targets/0/diameter_mm"
ALL_DAY = {"work_start": "00:00", "work_end": "24:00",
           "work_days": "mon,tue,wed,thu,fri,sat,sun"}


def days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


def recorded(api: Api, body: dict[str, Any], user: str = "coord1") -> dict[str, Any]:
    response = api.post(PID, body, user=user)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def reactions(api: Api) -> None:
    app: Any = api.client.app
    run_reactions(app.state.ledger, app.state.engine)


def head(api: Api) -> str:
    """The recorded time of the newest entry: an as_of that shows everything so far."""
    entries = api.get("/api/v1/audit-trail", "auditor", limit=1000).json()["entries"]
    moment: str = entries[-1]["recorded_at"]
    return moment


def queries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/queries", "monitor1", **params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["queries"]
    return found


def sdv_status(api: Api, event_id: str, **params: Any) -> str:
    response = api.get(f"/api/v1/participants/{PID}/sdv", "monitor1", **params)
    assert response.status_code == 200, response.text
    rows = {row["event_id"]: row for row in response.json()["entries"]}
    status: str = rows[event_id]["status"]
    return status


def review_report(api: Api, **window: Any) -> dict[str, Any]:
    response = api.get("/api/v1/audit-review", "monitor1", **ALL_DAY, **window)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def late_positions(report: dict[str, Any]) -> set[int]:
    return {p for f in report["findings"] if f["kind"] == "late_entry" for p in f["positions"]}


def test_a_monitors_week_each_step_before_and_after(api: Api) -> None:
    # 1. The typo opens a query by itself.
    recorded(api, story.enrollment(on=days_ago(50)) | {"expected_version": 0})
    typo = story.scan(days_ago(52), baseline=True, recist_mm=[400, 30], mrecist_mm=[35, 25])
    scan = recorded(api, typo)
    before_check = head(api)
    assert queries(api) == []
    reactions(api)
    (query,) = queries(api)
    assert (query["event_id"], query["field"], query["state"], query["origin"]) == (
        scan["event_id"], FIELD, "open", "EC-TU-01")
    assert queries(api, as_of=before_check) == []  # as of before the check ran: none

    # 2. The site answers with a correction; the check closes the query.
    fixed = story.scan(days_ago(52), baseline=True, recist_mm=[40, 30], mrecist_mm=[35, 25])
    correction = recorded(api, story.correction(scan["event_id"], days_ago(0), fixed["data"],
                                                reason="400 mm was a typo for 40 mm"))
    before_close = head(api)
    reactions(api)
    (closed,) = queries(api)
    assert closed["state"] == "closed"
    assert closed["history"][-1]["cites"] == correction["event_id"]
    assert [q["state"] for q in queries(api, as_of=before_close)] == ["open"]

    # 3. The monitor verifies the corrected scan against source.
    assert sdv_status(api, scan["event_id"]) == "to_verify"
    before_sdv = head(api)
    marked = api.client.post(f"/api/v1/participants/{PID}/sdv",
                             json={"event_ids": [scan["event_id"]], "comment": "CT report"},
                             headers=api.headers("monitor1"))
    assert marked.status_code == 201, marked.text
    assert sdv_status(api, scan["event_id"]) == "verified"
    assert sdv_status(api, scan["event_id"], as_of=before_sdv) == "to_verify"

    # 4. A dose entered 49 days after it was given shows in the audit-trail review.
    before_dose = head(api)
    dose = recorded(api, story.camrelizumab(days_ago(49)))
    window_start = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    earlier = review_report(api, recorded_from=window_start, recorded_to=before_dose)
    assert dose["position"] not in late_positions(earlier)
    report = review_report(api, recorded_from=window_start)
    assert dose["position"] in late_positions(report)
    late = next(f for f in report["findings"]
                if f["kind"] == "late_entry" and dose["position"] in f["positions"])
    assert "49 days" in late["summary"]
    body = {**report["window"], **{k: report["rules"][k] for k in (
        "work_start", "work_end", "work_days", "utc_offset")},
        "report_hash": report["report_hash"],
        "findings": [{"finding_id": late["finding_id"],
                      "note": "dose given on time; entered late from the paper chart"}],
        "conclusion": "One late entry, explained by the site; no sign of unauthorised change.",
        "meaning": "I reviewed this audit trail", "password": PASSWORD}
    before_review = head(api)
    signed = api.client.post("/api/v1/audit-reviews", json=body,
                             headers=api.headers("monitor1"))
    assert signed.status_code == 201, signed.text
    review = signed.json()

    def reviews(**params: Any) -> list[str]:
        answer = api.get("/api/v1/audit-reviews", "monitor1", **params)
        assert answer.status_code == 200, answer.text
        return [r["review_id"] for r in answer.json()["reviews"]]

    assert reviews() == [review["review_id"]]
    assert reviews(as_of=before_review) == []

    # 5. The schedule: the first follow-up scan is expected 6 weeks after the first dose.
    schedule = api.get(f"/api/v1/participants/{PID}/schedule", "monitor1").json()
    scans = next(a for a in schedule["activities"] if a["activity"] == "tumour_assessment")
    first = scans["visits"][0]
    assert date.fromisoformat(first["target_on"]) == (
        date.fromisoformat(days_ago(49)) + timedelta(days=42))
    assert first["status"] in ("due", "overdue")
    then = api.get(f"/api/v1/participants/{PID}/schedule", "monitor1",
                   as_of=before_dose).json()
    assert then["treatment_start_on"] is None  # as of before the dose: nothing expected yet
    assert all(a["visits"] == [] for a in then["activities"])
    assert schedule["treatment_start_on"] == days_ago(49)
