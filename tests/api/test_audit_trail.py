"""Auditors page through every change: who, what, when, why, old and new values."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests import story
from tests.api.conftest import Api


def _page(api: Api, **params: object) -> dict[str, Any]:
    response = api.client.get("/api/v1/audit-trail", headers=api.headers("auditor"),
                              params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_a_correction_shows_old_and_new_values_with_reason_user_and_role(api: Api) -> None:
    api.post("HCC-01-001", story.enrollment())
    dose = api.post("HCC-01-001", story.camrelizumab("2026-01-12", dose_mg=20)).json()
    api.post("HCC-01-001", story.adverse_event("AE1", "2026-01-20", grade=2))
    api.post("HCC-01-001", story.ae_update("AE1", "2026-01-25", grade=3))
    api.post("HCC-01-001", story.correction(dose["event_id"], "2026-01-12",
                                            story.camrelizumab("x")["data"],
                                            reason="dose transcribed from the wrong line",
                                            new_date="2026-01-13"),
             user="dm")
    api.post("HCC-01-001", story.void(dose["event_id"], "2026-01-13", reason="duplicate entry"),
             user="dm")
    entries = _page(api, participant_id="HCC-01-001")["entries"]
    assert [e["type"] for e in entries] == [
        "ParticipantEnrolled", "DoseAdministered", "AdverseEventReported",
        "AdverseEventUpdated", "EntryCorrected", "EntryVoided"]
    update, correction, void = entries[3], entries[4], entries[5]
    assert update["changes"] == [{"field": "data.grade", "old": 2, "new": 3}]
    assert correction["changes"] == [
        {"field": "occurred_on", "old": "2026-01-12", "new": "2026-01-13"},
        {"field": "data.dose_mg", "old": 20.0, "new": 200.0}]
    assert (correction["recorded_by"], correction["role"], correction["reason"]) == (
        "dm", "data_manager", "dose transcribed from the wrong line")
    assert void["changes"] == [{"field": "entry", "old": "DoseAdministered of 2026-01-13",
                                "new": "voided"}]
    report = api.client.get("/api/v1/participants/HCC-01-001/audit-report",
                            headers=api.headers("auditor"))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "dose transcribed from the wrong line" in report.text
    assert "20.0 &rarr; 200.0" in report.text


def test_paging_returns_every_event_once_in_order_while_four_writers_append(api: Api) -> None:
    ids = [f"HCC-01-{n:03d}" for n in range(4)]
    for pid in ids:
        api.post(pid, story.enrollment())
    stop = threading.Event()

    def writer(pid: str) -> int:
        written = 0
        while not stop.is_set() and written < 40:
            day = 1 + written % 28
            assert api.post(pid, story.follow_up(f"2026-02-{day:02d}")).status_code == 201
            written += 1
        return written

    seen: list[int] = []
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(writer, pid) for pid in ids]
        after = 0
        while not all(f.done() for f in futures) or after < api.ledger_state()[0]:
            page = _page(api, after=after, limit=7)
            seen += [e["position"] for e in page["entries"]]
            after = int(page["next_after"])
            if not page["entries"] and all(f.done() for f in futures):
                break
        stop.set()
        written = sum(f.result() for f in futures)
    page = _page(api, after=after, limit=1000)
    seen += [e["position"] for e in page["entries"]]
    count, _ = api.ledger_state()
    assert len(seen) == count == len(set(seen)) and seen == sorted(seen)
    assert written == 160


def test_filters_by_user_and_as_of(api: Api) -> None:
    api.post("HCC-01-001", story.enrollment())
    first = _page(api)["entries"]
    cut = first[-1]["recorded_at"]
    api.post("HCC-01-001", story.tace("2026-01-14"), user="dm")
    by_dm = _page(api, user="dm")["entries"]
    assert [e["type"] for e in by_dm] == ["TACEPerformed"]
    then = _page(api, as_of=cut)["entries"]
    assert [e["type"] for e in then if e["participant_id"]] == ["ParticipantEnrolled"]


def test_projections_expose_state_hashes_and_how_far_behind_the_worker_is(api: Api) -> None:
    api.post("HCC-01-001", story.enrollment())
    before = api.get("/api/v1/projections", user="auditor").json()
    assert {r["name"] for r in before} == {"participant_summaries", "response_timelines",
                                           "audit_feed", "participant_outcomes"}
    assert all(r["position"] == 0 and r["behind"] == r["log_position"] > 0 for r in before)
    # what the projection worker does
    api.client.app.state.projector.catch_up()  # type: ignore[attr-defined]
    rows = api.get("/api/v1/projections", user="auditor").json()
    assert all(len(r["state_hash"]) == 64 and r["position"] == r["log_position"] > 0
               and r["behind"] == 0 for r in rows)
    assert api.get("/api/v1/audit-trail", user="coord1").status_code == 403
