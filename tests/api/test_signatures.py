"""Electronic signatures (Part 11 §11.50 manifestation, §11.70 binding, §11.200 password again)
through the real API on both stores."""

from __future__ import annotations

from typing import Any

from tests import story
from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import audit, new_account, send

PID = "HCC-01-001"
SIGNATURES = f"/api/v1/participants/{PID}/signatures"
APPROVE = "I approve this casebook as complete and accurate"


def sign(api: Api, user: str = "invest1", password: str = PASSWORD, meaning: str = APPROVE
         ) -> Any:
    return send(api, "POST", SIGNATURES, user, {"meaning": meaning, "password": password})


def enrolled_and_dosed(api: Api) -> dict[str, Any]:
    assert api.post(PID, story.enrollment()).status_code == 201
    dose = api.post(PID, story.camrelizumab("2026-01-12", dose_mg=20))
    assert dose.status_code == 201
    body: dict[str, Any] = dose.json()
    return body


def test_a_signature_shows_name_time_and_meaning_and_covers_the_chain_hash(api: Api) -> None:
    dose = enrolled_and_dosed(api)
    signed = sign(api)
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body | {"participant_id": PID, "signer": "invest1", "full_name": "Invest1",
                   "meaning": APPROVE, "covers_version": 2, "covers_hash": dose["hash"],
                   "status": "valid", "invalidated_by": None} == body
    events = api.get(f"/api/v1/participants/{PID}/events").json()
    stored = events[-1]
    assert (stored["type"], stored["event_id"], stored["recorded_at"]) == (
        "CasebookSigned", body["signature_id"], body["signed_at"])
    assert stored["data"]["covers_hash"] == events[1]["hash"]  # bound to what was signed
    assert api.get(SIGNATURES).json() == [body]
    book = api.get(f"/api/v1/participants/{PID}").json()
    assert book["signatures"] == [body] and book["version"] == 3
    assert book["doses"]["camrelizumab"][0]["dose_mg"] == 20  # a signature changes no data
    report = api.client.get(f"/api/v1/participants/{PID}/audit-report",
                            headers=api.headers("auditor")).text
    assert "<strong>Invest1</strong> (invest1) signed" in report and APPROVE in report
    assert body["signed_at"] in report and "<em>valid</em>" in report
    (entry,) = [e for e in audit(api, participant_id=PID) if e["type"] == "CasebookSigned"]
    assert entry["recorded_by"] == "invest1" and entry["changes"] == [{
        "field": "signature", "old": None,
        "new": f"Invest1 (invest1): {APPROVE}; covers version 2"}]
    assert api.get("/api/v1/ledger/verify", user="auditor").json()["ok"] is True


def test_a_later_entry_or_correction_invalidates_the_signature(api: Api) -> None:
    dose = enrolled_and_dosed(api)
    first = sign(api).json()
    contact = api.post(PID, story.follow_up("2026-02-01")).json()
    (now,) = api.get(SIGNATURES).json()
    assert (now["status"], now["invalidated_by"]) == ("invalidated", contact["event_id"])
    (then,) = api.get(SIGNATURES, as_of=first["signed_at"]).json()
    assert then["status"] == "valid"  # time travel: what the system said right after signing
    second = sign(api, meaning="Re-reviewed after the follow-up").json()
    fix = api.post(PID, story.correction(dose["event_id"], "2026-01-12",
                                         story.camrelizumab("x")["data"]), user="dm").json()
    assert [(s["status"], s["invalidated_by"]) for s in api.get(SIGNATURES).json()] == [
        ("invalidated", contact["event_id"]), ("invalidated", fix["event_id"])]
    (fix_entry,) = [e for e in audit(api, participant_id=PID) if e["type"] == "EntryCorrected"]
    assert {"field": f"signature.{second['signature_id']}", "old": "valid",
            "new": "invalidated"} in fix_entry["changes"]
    report = api.client.get(f"/api/v1/participants/{PID}/audit-report",
                            headers=api.headers("auditor")).text
    assert f"<em>invalidated</em> by event <code>{fix['event_id']}</code>" in report


def test_only_an_investigator_of_the_site_signs_and_a_wrong_password_counts(api: Api) -> None:
    enrolled_and_dosed(api)
    new_account(api, "invest2", "investigator", ["S02"])
    before = api.ledger_state()
    for user, status in (("coord1", 403), ("dm", 403), ("monitor1", 403), ("invest2", 404)):
        refused = sign(api, user=user)  # invest2's sites do not include the participant's
        assert refused.status_code == status, (user, refused.text)
    assert api.ledger_state() == before  # refused before the password is even checked
    for _ in range(4):
        wrong = sign(api, password="not my password")
        assert wrong.status_code == 401 and wrong.json()["detail"] == (
            "wrong username or password")
    assert api.get(SIGNATURES).json() == []
    fifth = sign(api, password="not my password")
    assert fifth.status_code == 401 and "now locked" in fifth.json()["detail"]
    failures = [e["reason"] for e in audit(api, user="invest1") if e["type"] == "LoginFailed"]
    assert failures == ["wrong password at signature"] * 5
    assert sign(api).status_code == 401  # locked: the token no longer works


def test_signatures_are_not_postable_correctable_or_voidable(api: Api) -> None:
    enrolled_and_dosed(api)
    signature = sign(api).json()
    posted = api.post(PID, {"type": "CasebookSigned", "occurred_on": "2026-02-01",
                            "data": {"meaning": "forged"}})
    assert posted.status_code == 422
    before = api.ledger_state()
    corrected = api.post(PID, story.correction(signature["signature_id"], "2026-02-01",
                                               {"meaning": "forged"}), user="dm")
    assert corrected.status_code == 409 and "never corrected" in corrected.json()["detail"]
    voided = api.post(PID, story.void(signature["signature_id"], "2026-02-01"), user="dm")
    assert voided.status_code == 409 and "never voided" in voided.json()["detail"]
    assert api.ledger_state() == before
    bad = send(api, "POST", SIGNATURES, "invest1", {"meaning": " ", "password": PASSWORD})
    assert bad.status_code == 422
    unknown = send(api, "POST", "/api/v1/participants/HCC-01-999/signatures", "invest1",
                   {"meaning": APPROVE, "password": PASSWORD})
    assert unknown.status_code == 404
