"""Source-data verification through the API, on both stores.

A monitor of S01 verifies a baseline scan; the site corrects it; the status never shows the
changed scan as verified, the reactions runner records the withdrawal once, and every step
reads back as it stood through `as_of`. Only a monitor verifies, only at their own sites; a
stranger to a site sees what an unknown participant gives; bad bodies say which field is
wrong; reads write nothing.
"""

from __future__ import annotations

from typing import Any

from domain.ledger_event import Author
from domain.sdv import SourceVerification, sdv_stream_id
from services.monitoring.runner import run_reactions
from services.monitoring.sdv import withdraw_for_corrections
from tests import story
from tests.api.conftest import Api

PID, OTHER = "HCC-01-001", "HCC-02-001"
SDV = f"/api/v1/participants/{PID}/sdv"


def _trial(api: Api) -> dict[str, str]:
    ids = {"enrolment": api.post(PID, story.enrollment("S01")).json()["event_id"]}
    scan = story.scan("2026-01-08", baseline=True, recist_mm=[40, 22], mrecist_mm=[35, 20])
    ids["scan"] = api.post(PID, scan).json()["event_id"]
    ids["dose"] = api.post(PID, story.camrelizumab("2026-01-12")).json()["event_id"]
    ids["tace"] = api.post(PID, story.tace("2026-01-12")).json()["event_id"]
    assert api.post(OTHER, story.enrollment("S02", on="2026-01-11"),
                    user="coord2").status_code == 201
    return ids


def _head(api: Api) -> str:
    head = api.client.app.state.ledger.store.head()  # type: ignore[attr-defined]
    return str(head.recorded_at)


def _entries(api: Api, user: str = "monitor1", **params: Any) -> dict[str, dict[str, Any]]:
    answer = api.get(SDV, user, **params)
    assert answer.status_code == 200, answer.text
    return {row["event_id"]: row for row in answer.json()["entries"]}


def _mark(api: Api, user: str = "monitor1", pid: str = PID, **body: Any) -> Any:
    return api.client.post(f"/api/v1/participants/{pid}/sdv", json=body,
                           headers=api.headers(user))


def test_a_verified_scan_corrected_later_is_withdrawn_once_and_reads_back_at_each_step(
        api: Api) -> None:
    ids = _trial(api)
    before = _head(api)
    rows = _entries(api)
    assert rows[ids["scan"]]["status"] == "to_verify" and rows[ids["scan"]]["required"]
    assert rows[ids["enrolment"]]["plan"] == "eligibility and consent: 100%"

    marked = _mark(api, event_ids=[ids["scan"]], visit="Screening", comment="CT report")
    assert marked.status_code == 201, marked.text
    assert marked.json()["verified"] == [ids["scan"]] and marked.json()["withdrawn"] == []
    verified_at = _head(api)
    scan = _entries(api)[ids["scan"]]
    assert scan["status"] == "verified"
    assert scan["mark"]["verified_by"] == "monitor1" and scan["mark"]["visit"] == "Screening"
    assert scan["mark"]["position"] == marked.json()["position"]

    corrected = story.scan("2026-01-08", baseline=True, recist_mm=[41, 22], mrecist_mm=[35, 20])
    fix = api.post(PID, story.correction(ids["scan"], story.today(), corrected["data"]), "dm")
    assert fix.status_code == 201, fix.text
    corrected_at = _head(api)
    pending = _entries(api)[ids["scan"]]
    assert pending["status"] == "withdrawn_pending"  # never shown as verified
    assert pending["mark"]["withdrawn_because"] == fix.json()["event_id"]
    assert pending["mark"]["withdrawal_recorded_at"] is None

    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    run_reactions(ledger, api.client.app.state.engine)  # type: ignore[attr-defined]
    assert withdraw_for_corrections(ledger) == {}  # the runner recorded it: nothing left
    run_reactions(ledger, api.client.app.state.engine)  # type: ignore[attr-defined]
    api.client.app.state.projector.catch_up()  # type: ignore[attr-defined]
    trail = api.get("/api/v1/audit-trail", "auditor", event_type="VerificationWithdrawn").json()
    assert [(e["recorded_by"], e["stream_id"]) for e in trail["entries"]] == [
        ("system", f"sdv:{PID}")]
    withdrawn = _entries(api)[ids["scan"]]
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["mark"]["withdrawn_because"] == fix.json()["event_id"]
    assert withdrawn["mark"]["withdrawal_recorded_at"] == trail["entries"][0]["recorded_at"]
    (change,) = trail["entries"][0]["changes"]
    assert change["field"] == f"sdv.{ids['scan']}" and change["old"] == "verified"
    issued = api.client.post("/api/v1/ledger/checkpoints", headers=api.headers("dm"))
    assert issued.status_code == 201, issued.text
    proof = api.get("/api/v1/ledger/proofs/inclusion", "auditor",
                    event_id=trail["entries"][0]["event_id"])
    assert proof.status_code == 200, proof.text
    checked = api.get("/api/v1/ledger/verify", "auditor", read_models="true").json()
    assert checked["ok"] and checked["read_models"]["ok"], checked

    statuses = {moment: _entries(api, as_of=moment)[ids["scan"]]["status"]
                for moment in (before, verified_at, corrected_at)}
    assert statuses == {before: "to_verify", verified_at: "verified",
                        corrected_at: "withdrawn_pending"}

    again = _mark(api, event_ids=[ids["scan"]], comment="corrected read checked")
    assert again.status_code == 201, again.text
    scan = _entries(api)[ids["scan"]]
    assert scan["status"] == "verified" and scan["mark"]["times_verified"] == 2
    assert _entries(api, as_of=verified_at)[ids["scan"]]["mark"]["times_verified"] == 1


def test_a_whole_visit_is_verified_and_the_summary_counts_per_participant_and_site(
        api: Api) -> None:
    ids = _trial(api)
    visit = _mark(api, visit_on="2026-01-12", visit="C1D1")
    assert visit.status_code == 201, visit.text
    assert sorted(visit.json()["verified"]) == sorted([ids["dose"], ids["tace"]])
    twice = _mark(api, visit_on="2026-01-12")
    assert twice.status_code == 409 and twice.json()["rule"] == "nothing_to_verify"
    assert _mark(api, event_ids=[ids["dose"]]).json()["rule"] == "already_verified"

    own = api.get("/api/v1/sdv", "monitor1").json()
    assert [p["participant_id"] for p in own["participants"]] == [PID]
    assert [s["site_id"] for s in own["sites"]] == ["S01"] and own["scope"]["sites"] == ["S01"]
    (figures,) = own["participants"]
    assert figures["entries"] == 4 and figures["verified"] == 2
    # Enrolment and scan are required; dose and TACE are in the plan only if sampled.
    assert figures["required"] == 2 + figures["verified_required"]
    assert figures["to_verify"] == 2
    every = api.get("/api/v1/sdv", "dm").json()
    assert [s["site_id"] for s in every["sites"]] == ["S01", "S02"]
    assert every["sites"][1]["percent_of_plan"] == 0.0 and every["sites"][1]["required"] == 1
    assert api.get("/api/v1/sdv", "dm", site_id="S02").json()["sites"][0]["site_id"] == "S02"
    hidden = api.get("/api/v1/sdv", "monitor1", site_id="S02").json()
    assert hidden["participants"] == [] and hidden["empty"] and "S02" not in str(hidden["scope"])


def test_only_a_monitor_verifies_and_only_at_their_sites(api: Api) -> None:
    ids = _trial(api)
    body: dict[str, Any] = {"event_ids": [ids["scan"]]}
    for user in ("coord1", "invest1", "dm", "auditor", "admin"):
        assert _mark(api, user, **body).status_code == 403, user
    other = _mark(api, pid=OTHER, **body)
    unknown = _mark(api, pid="HCC-01-999", **body)
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace(OTHER, "X") == unknown.json()["detail"].replace(
        "HCC-01-999", "X")
    assert api.get(f"/api/v1/participants/{OTHER}/sdv", "monitor1").status_code == 404
    assert api.get(SDV, "coord2").status_code == 404
    assert api.get(SDV, "coord1").status_code == 200  # the site sees what is verified
    assert api.get("/api/v1/sdv", "admin").status_code == 403


def test_bad_bodies_name_the_field_and_record_nothing(api: Api) -> None:
    ids = _trial(api)
    other_entry = api.post(OTHER, story.tace("2026-01-13"), user="coord2").json()["event_id"]
    state = api.ledger_state()
    bad: list[tuple[dict[str, Any], int, str]] = [
        ({}, 422, "either event_ids or visit_on"),
        ({"event_ids": [ids["scan"]], "visit_on": "2026-01-12"}, 422,
         "either event_ids or visit_on"),
        ({"event_ids": "everything"}, 422, "event_ids"),
        ({"event_ids": []}, 422, "event_ids"),
        ({"event_ids": ["not-an-id"]}, 422, "event_ids.0"),
        ({"event_ids": [ids["scan"], ids["scan"]]}, 422, "event_ids"),
        ({"event_ids": [ids["scan"]], "signed": True}, 422, "signed"),
        ({"visit_on": "12/01/2026"}, 422, "visit_on"),
        ({"visit_on": "2026-01-12", "visit": "x" * 201}, 422, "visit"),
        ({"event_ids": [other_entry]}, 422, "event_ids.0"),
        ({"visit_on": "2025-01-01"}, 409, "nothing_to_verify"),
    ]
    for body, status, where in bad:
        answer = _mark(api, **body)
        assert answer.status_code == status, (body, answer.text)
        problem = answer.json()
        named = [e["loc"] for e in problem["errors"]] + [problem.get("rule"), problem["detail"]]
        assert any(where == found or where in str(found) for found in named), (body, problem)
    assert api.ledger_state() == state
    void = api.post(PID, story.void(ids["tace"], "2026-11-30"), "dm")
    assert void.status_code == 201
    state = api.ledger_state()
    voided = _mark(api, event_ids=[ids["tace"]])
    assert voided.status_code == 409 and voided.json()["rule"] == "not_verifiable"
    correction = _mark(api, event_ids=[void.json()["event_id"]])
    assert correction.status_code == 409
    assert api.ledger_state() == state
    assert api.get(SDV, "monitor1", as_of="yesterday").status_code == 422
    assert api.get("/api/v1/sdv", "monitor1", site_id="s01; drop").status_code == 422


def test_reads_write_nothing_even_with_a_withdrawal_pending(api: Api) -> None:
    ids = _trial(api)
    assert _mark(api, event_ids=[ids["dose"], ids["tace"]]).status_code == 201
    assert api.post(PID, story.void(ids["tace"], "2026-11-30"), "dm").status_code == 201
    state = api.ledger_state()
    rows = _entries(api)
    assert rows[ids["tace"]]["status"] == "withdrawn_pending"
    assert not rows[ids["tace"]]["effective"]  # voided: listed for its mark, in no plan
    assert api.get("/api/v1/sdv", "dm").json()["participants"][0]["withdrawn_pending"] == 1
    assert api.ledger_state() == state
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    assert withdraw_for_corrections(ledger) == {PID: [ids["tace"]]}
    assert withdraw_for_corrections(ledger) == {}
    assert _entries(api)[ids["tace"]]["status"] == "withdrawn"


def test_verifying_a_changed_entry_again_records_its_withdrawal_first(api: Api) -> None:
    ids = _trial(api)
    assert _mark(api, event_ids=[ids["dose"]]).status_code == 201
    fix = api.post(PID, story.correction(ids["dose"], story.today(),
                                         story.camrelizumab("x")["data"] | {"dose_mg": 180}))
    assert fix.status_code == 201, fix.text
    again = _mark(api, event_ids=[ids["dose"]])
    assert again.status_code == 201, again.text
    assert again.json()["verified"] == again.json()["withdrawn"] == [ids["dose"]]
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    assert withdraw_for_corrections(ledger) == {}
    run_reactions(ledger, api.client.app.state.engine)  # type: ignore[attr-defined]
    trail = api.get("/api/v1/audit-trail", "monitor1", event_type="VerificationWithdrawn")
    assert [e["reason"] for e in trail.json()["entries"]] == [
        "the verified entry was changed after it was verified"]
    dose = _entries(api)[ids["dose"]]
    assert dose["status"] == "verified" and dose["mark"]["times_verified"] == 2
    assert dose["mark"]["withdrawn_because"] is None


def test_a_mark_decided_just_before_a_correction_is_withdrawn_when_the_runner_reaches_it(
        api: Api) -> None:
    """The race the reaction closes: the monitor's write read the scan, the site's correction
    committed, then the mark; the runner has already passed the correction."""
    ids = _trial(api)
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    engine = api.client.app.state.engine  # type: ignore[attr-defined]
    as_read = ledger.participant(PID, as_of=_head(api))
    corrected = story.scan("2026-01-08", baseline=True, recist_mm=[41, 22], mrecist_mm=[35, 20])
    fix = api.post(PID, story.correction(ids["scan"], story.today(), corrected["data"]), "dm")
    assert fix.status_code == 201, fix.text
    run_reactions(ledger, engine)  # passes the correction: no mark yet

    def decide(current: SourceVerification | None) -> SourceVerification:
        record = current or SourceVerification.open(PID, Author("monitor1", "monitor"), "S01")
        record.verify(as_read, [ids["scan"]], Author("monitor1", "monitor"))
        return record
    ledger.update_stream(sdv_stream_id(PID), decide)
    assert _entries(api)[ids["scan"]]["status"] == "withdrawn_pending"
    run_reactions(ledger, engine)
    scan = _entries(api)[ids["scan"]]
    assert scan["status"] == "withdrawn"
    assert scan["mark"]["withdrawn_because"] == fix.json()["event_id"]
