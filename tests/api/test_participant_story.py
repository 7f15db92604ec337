"""A participant's story through the real API: enroll, treat, report, correct, void, verify."""

from __future__ import annotations

from tests import story
from tests.api.conftest import Api


def test_a_whole_story_reads_back_from_the_casebook_and_the_stream(api: Api) -> None:
    pid = "HCC-01-003"
    enrolled = api.post(pid, story.enrollment())
    assert enrolled.status_code == 201, enrolled.text
    body = enrolled.json()
    assert (body["participant_id"], body["type"], body["version"]) == (pid, "ParticipantEnrolled", 1)
    assert body["recorded_by"] == "coord1" and body["recorded_at"].endswith("Z")
    assert len(body["hash"]) == 64

    dose = api.post(pid, story.camrelizumab("2026-01-15", dose_mg=20)).json()
    api.post(pid, story.tace("2026-01-14"))
    api.post(pid, story.apatinib("2026-01-18", end_on="2026-02-07"))
    ae = api.post(pid, story.adverse_event("AE1", "2026-01-25", term="Hypertension", grade=2))
    assert ae.status_code == 201
    assert api.post(pid, story.ae_update("AE1", "2026-02-01", grade=3)).status_code == 201
    fixed = api.post(pid, story.correction(dose["event_id"], "2026-01-15",
                                           story.camrelizumab("x")["data"]), user="dm")
    assert fixed.status_code == 201, fixed.text
    extra = api.post(pid, story.camrelizumab("2026-02-05", cycle=2)).json()
    voided = api.post(pid, story.void(extra["event_id"], "2026-02-05"))
    assert voided.status_code == 201
    api.post(pid, story.follow_up("2026-03-01"))

    book = api.get(f"/api/v1/participants/{pid}").json()
    assert book["status"] == "on_treatment" and book["version"] == 10
    assert book["treatment_start_on"] == "2026-01-14"
    (cam,) = book["doses"]["camrelizumab"]
    assert cam["dose_mg"] == 200 and cam["corrected_by"] == [fixed.json()["event_id"]]
    assert len(book["doses"]["apatinib"]) == 1 and len(book["tace_sessions"]) == 1
    (adverse,) = book["adverse_events"]
    assert (adverse["grade"], adverse["worst_grade"]) == (3, 3)
    assert book["last_known_alive_on"] == "2026-03-01" and book["died_on"] is None

    events = api.get(f"/api/v1/participants/{pid}/events").json()
    assert [e["version"] for e in events] == list(range(1, 11))
    by_id = {e["event_id"]: e for e in events}
    assert by_id[dose["event_id"]]["corrected_by"] == [fixed.json()["event_id"]]
    assert by_id[dose["event_id"]]["data"]["dose_mg"] == 20  # the original is never changed
    assert by_id[extra["event_id"]]["voided_by"] == voided.json()["event_id"]
    assert by_id[fixed.json()["event_id"]]["reason"] == "transcription error"
    assert by_id[fixed.json()["event_id"]]["role"] == "data_manager"

    listing = api.get("/api/v1/participants").json()["participants"]
    assert listing == [{"participant_id": pid, "site_id": "S01", "status": "on_treatment",
                        "version": 10}]
    verify = api.get("/api/v1/ledger/verify", user="auditor").json()
    count, head = api.ledger_state()
    assert {k: verify[k] for k in ("ok", "events", "head")} == {
        "ok": True, "events": count, "head": head}
    assert verify["checks"][:2] == [f"chain: {count} events linked",
                                    "checkpoints: none stored yet"]


def test_death_moves_the_participant_to_dead_and_closes_the_timeline(api: Api) -> None:
    pid = "HCC-01-004"
    api.post(pid, story.enrollment())
    assert api.post(pid, story.death("2026-06-01")).status_code == 201
    late = api.post(pid, story.follow_up("2026-06-02"))
    assert late.status_code == 409
    assert "after the participant's death on 2026-06-01" in late.json()["detail"]
    book = api.get(f"/api/v1/participants/{pid}").json()
    assert (book["status"], book["died_on"]) == ("dead", "2026-06-01")


def test_health_names_the_store(api: Api, store_kind: str) -> None:
    assert api.client.get("/health").json() == {"status": "ok", "store": store_kind}


def test_openapi_documents_every_event_type(api: Api) -> None:
    from domain.events import CATALOGUE

    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    for name, spec in CATALOGUE.items():
        assert f"{name}Submission" in schemas
        assert spec.payload.__name__ in schemas
