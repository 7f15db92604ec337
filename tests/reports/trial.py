"""A small trial posted through the API, and a study report's content read back from it.

Five participants, TACE on 2026-01-14 after a baseline scan on 2026-01-12, follow-up scans at
week 6 (2026-02-25) and week 12 (2026-04-08):

| id | site | RECIST 1.1 (mm) | mRECIST (mm) | other |
|---|---|---|---|---|
| HCC-01-001 | S01 | 50 -> 30, 30 | 50 -> 20, 0 | AE grade 2 -> 3 |
| HCC-01-002 | S01 | 40 -> 36, 36 | 40 -> 20, 20 | |
| HCC-01-003 | S01 | 60 -> 80 | 60 -> 80 | camrelizumab stopped for a serious AE; died 04-01 |
| HCC-01-004 | S01 | 50, no scan | 50, no scan | contact 03-01 |
| HCC-02-001 | S02 | 50 -> 30, 30 | 50 -> 30, 30 | RCCEP grade 1 |
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.protocol import CRITERIA
from services.reports.content import StudyReportContent
from tests import story
from tests.api.conftest import Api

CUTOFF = "2026-11-01"
WEEK_6, WEEK_12 = "2026-02-25", "2026-04-08"


def ok(api: Api, pid: str, body: dict[str, Any], user: str = "coord1") -> dict[str, Any]:
    response = api.post(pid, body, user=user)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _start(api: Api, pid: str, recist: list[float], mrecist: list[float],
           user: str = "coord1", site: str = "S01") -> None:
    ok(api, pid, story.enrollment(site_id=site), user)
    ok(api, pid, story.scan("2026-01-12", baseline=True, recist_mm=recist, mrecist_mm=mrecist),
       user)
    ok(api, pid, story.tace("2026-01-14"), user)


def _scan(api: Api, pid: str, on: str, recist: list[float], mrecist: list[float],
          user: str = "coord1") -> None:
    ok(api, pid, story.scan(on, baseline=False, recist_mm=recist, mrecist_mm=mrecist), user)


def small_trial(api: Api) -> None:
    """The trial in the module docstring."""
    _start(api, "HCC-01-001", [50], [50])
    _scan(api, "HCC-01-001", WEEK_6, [30], [20])
    _scan(api, "HCC-01-001", WEEK_12, [30], [0])
    ok(api, "HCC-01-001", story.adverse_event("AE1", "2026-02-01", grade=2))
    ok(api, "HCC-01-001", story.ae_update("AE1", "2026-03-01", grade=3))
    _start(api, "HCC-01-002", [40], [40])
    _scan(api, "HCC-01-002", WEEK_6, [36], [20])
    _scan(api, "HCC-01-002", WEEK_12, [36], [20])
    _start(api, "HCC-01-003", [60], [60])
    ok(api, "HCC-01-003", story.camrelizumab("2026-01-15"))
    ast = story.adverse_event("AE1", "2026-02-10", term="Aspartate aminotransferase increased",
                              grade=3, related_to=("camrelizumab",))
    ast["data"]["serious"] = True
    ok(api, "HCC-01-003", ast)
    ok(api, "HCC-01-003", {"type": "DoseModified", "occurred_on": "2026-02-12",
                           "data": {"drug": "camrelizumab", "action": "discontinued",
                                    "reason": "hepatitis", "adverse_event_id": "AE1"}})
    _scan(api, "HCC-01-003", WEEK_6, [80], [80])
    ok(api, "HCC-01-003", story.death("2026-04-01"))
    _start(api, "HCC-01-004", [50], [50])
    ok(api, "HCC-01-004", story.follow_up("2026-03-01"))
    _start(api, "HCC-02-001", [50], [50], user="coord2", site="S02")
    _scan(api, "HCC-02-001", WEEK_6, [30], [30], user="coord2")
    _scan(api, "HCC-02-001", WEEK_12, [30], [30], user="coord2")
    ok(api, "HCC-02-001", story.adverse_event(
        "AE1", "2026-03-01", term="Skin and subcutaneous tissue disorders - Other, specify: "
        "RCCEP", grade=1, related_to=("camrelizumab",)), user="coord2")


def read(api: Api, path: str, user: str, **params: Any) -> dict[str, Any]:
    response = api.get(path, user=user, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def issue_checkpoint(api: Api) -> dict[str, Any]:
    """Sign a checkpoint now and read it back as the report shows it."""
    issued = api.client.post("/api/v1/ledger/checkpoints", headers=api.headers("dm"))
    assert issued.status_code == 201, issued.text
    return read(api, "/api/v1/ledger/checkpoints/latest", "dm")


def km_svg(curve: dict[str, Any], colour: str = "#1f4e8c") -> str:
    """A Kaplan-Meier step curve from the curves read model, drawn with presentation
    attributes only (what the report's plots are)."""
    width, height, pad = 420.0, 220.0, 30.0
    last = max([point["day"] for point in curve["points"]] + [1])
    x = [pad + (width - 2 * pad) * point["day"] / last for point in curve["points"]]
    y = [height - pad - (height - 2 * pad) * point["survival"] for point in curve["points"]]
    steps = [f"{x[0]:.1f},{y[0]:.1f}"] if x else []
    for i in range(1, len(x)):
        steps += [f"{x[i]:.1f},{y[i - 1]:.1f}", f"{x[i]:.1f},{y[i]:.1f}"]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
            f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
            'stroke="#000000" stroke-width="1"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#000000" '
            'stroke-width="1"/>'
            f'<polyline points="{" ".join(steps)}" fill="none" stroke="{colour}" '
            'stroke-width="1.5"/>'
            f'<text x="{pad}" y="{height - 8}" font-family="Helvetica" font-size="9" '
            f'fill="#000000">days (last {last}); n = {curve["n"]}, events = {curve["events"]}'
            '</text></svg>')


def report_content(api: Api, user: str = "dm", *, as_of: str | None = None,
                   checkpoint: dict[str, Any] | None = None,
                   generated_at: str = "2026-11-02T09:00:00Z") -> StudyReportContent:
    """The content a client assembles from the API's answers for `user`."""
    params: dict[str, Any] = {"cutoff": CUTOFF, **({"as_of": as_of} if as_of else {})}
    endpoints: dict[str, dict[str, Any]] = {
        criterion: read(api, "/api/v1/endpoints", user, criteria=criterion, **params)
        for criterion in CRITERIA}
    safety = read(api, "/api/v1/safety", user, **params)
    plots: dict[str, str] = {}
    for criterion in CRITERIA:
        curves = read(api, "/api/v1/endpoints/curves", user, criteria=criterion,
                      **params)["curves"]
        plots[f"Progression-free survival, {criterion}"] = km_svg(curves["pfs"])
        plots[f"Overall survival, {criterion}"] = km_svg(curves["os"], "#8c1f1f")
    listed = read(api, "/api/v1/participants", user, **({"as_of": as_of} if as_of else {}))
    statuses = [p["status"] for p in listed["participants"]]
    population = endpoints[CRITERIA[0]]["population"]
    flow = {"enrolled": population["enrolled"], "treated": population["treated"],
            "evaluable": population["evaluable"], "discontinued": 1,
            "withdrawn": statuses.count("withdrawn"), "died": statuses.count("dead")}
    return StudyReportContent(
        cutoff=date.fromisoformat(CUTOFF), as_of=as_of, generated_at=generated_at,
        endpoints=endpoints, safety=safety, plots=plots, flow=flow, checkpoint=checkpoint,
        scope=endpoints[CRITERIA[0]]["scope"])
