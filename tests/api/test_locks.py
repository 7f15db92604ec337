"""Data cutoffs and locks through the real API on both stores: a locked participant or a locked
database refuses writes with 409 naming who, when and why, until an unlock with a reason."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from services.cli import app as cli
from tests import story
from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import audit, send

PID, OTHER = "HCC-01-001", "HCC-01-002"


def lock(api: Api, path: str, reason: str | None = "ready for the interim analysis",
         user: str = "dm") -> Any:
    return send(api, "POST", path, user, {} if reason is None else {"reason": reason})


def two_participants(api: Api) -> dict[str, Any]:
    assert api.post(PID, story.enrollment()).status_code == 201
    assert api.post(OTHER, story.enrollment()).status_code == 201
    dose = api.post(PID, story.camrelizumab("2026-01-12"))
    assert dose.status_code == 201
    body: dict[str, Any] = dose.json()
    return body


def test_a_locked_participant_refuses_entries_corrections_and_voids(api: Api) -> None:
    dose = two_participants(api)
    locked = lock(api, f"/api/v1/participants/{PID}/lock")
    assert locked.status_code == 201 and locked.json()["type"] == "ParticipantLocked"
    before = api.ledger_state()
    for body, user in ((story.follow_up("2026-02-01"), "coord1"),
                       (story.correction(dose["event_id"], "2026-01-12",
                                         story.camrelizumab("x", dose_mg=180)["data"]), "dm"),
                       (story.void(dose["event_id"], "2026-01-12"), "dm")):
        refused = api.post(PID, body, user=user)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert f"participant {PID} is locked: locked by dm (data_manager) at " in detail
        assert locked.json()["recorded_at"] in detail
        assert "reason: ready for the interim analysis" in detail
    signed = send(api, "POST", f"/api/v1/participants/{PID}/signatures", "invest1",
                  {"meaning": "approved", "password": PASSWORD})
    assert signed.status_code == 409
    assert api.ledger_state() == before
    assert api.post(OTHER, story.follow_up("2026-02-01")).status_code == 201
    assert lock(api, f"/api/v1/participants/{PID}/unlock", reason=None).status_code == 422
    unlocked = lock(api, f"/api/v1/participants/{PID}/unlock", "query on the dose date")
    assert unlocked.status_code == 201
    assert api.post(PID, story.follow_up("2026-02-01")).status_code == 201
    entries = [e for e in audit(api, participant_id=PID) if "locked" in e["type"].lower()]
    assert [(e["type"], e["recorded_by"], e["reason"], e["changes"]) for e in entries] == [
        ("ParticipantLocked", "dm", "ready for the interim analysis",
         [{"field": "locked", "old": False, "new": True}]),
        ("ParticipantUnlocked", "dm", "query on the dose date",
         [{"field": "locked", "old": True, "new": False}])]


def test_lock_twice_and_unlock_unlocked_are_conflicts(api: Api) -> None:
    two_participants(api)
    assert lock(api, f"/api/v1/participants/{PID}/unlock").status_code == 409
    assert lock(api, f"/api/v1/participants/{PID}/lock").status_code == 201
    assert lock(api, f"/api/v1/participants/{PID}/lock").status_code == 409
    assert lock(api, "/api/v1/participants/HCC-09-999/lock").status_code == 404


def test_a_locked_database_refuses_every_clinical_write_until_unlocked(api: Api) -> None:
    two_participants(api)
    locked = lock(api, "/api/v1/study/lock", "database lock for the final analysis")
    assert locked.status_code == 201, locked.text
    state = locked.json()
    assert state["locked"] is True and state["lock"]["locked_by"] == "dm"
    before = api.ledger_state()
    for pid, body in ((PID, story.follow_up("2026-02-01")),
                      ("HCC-01-003", story.enrollment())):
        refused = api.post(pid, body)
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith(
            "the database is locked: locked by dm (data_manager) at "
            + state["lock"]["locked_at"])
    assert send(api, "POST", f"/api/v1/participants/{PID}/signatures", "invest1",
                {"meaning": "approved", "password": PASSWORD}).status_code == 409
    assert api.ledger_state() == before
    assert lock(api, "/api/v1/study/lock").status_code == 409
    unlocked = lock(api, "/api/v1/study/unlock", "late SAE report from S01")
    assert unlocked.status_code == 201 and unlocked.json()["locked"] is False
    assert api.post(PID, story.follow_up("2026-02-01")).status_code == 201
    then = send(api, "GET", f"/api/v1/study?as_of={state['lock']['locked_at']}", "monitor1")
    assert then.json()["locked"] is True  # as the system knew it at the lock
    assert [e["type"] for e in audit(api) if e["stream_id"] == "study"] == [
        "StudyRecordOpened", "DatabaseLocked", "DatabaseUnlocked"]


def test_a_declared_cutoff_is_kept_and_named_by_reads(api: Api, settings: Any) -> None:
    two_participants(api)
    declared = send(api, "POST", "/api/v1/study/cutoffs", "dm", {
        "name": "interim-1", "cutoff_on": "2026-01-31", "reason": "SAP §9.2 interim analysis"})
    assert declared.status_code == 201
    (cutoff,) = declared.json()["cutoffs"]
    assert cutoff | {"name": "interim-1", "cutoff_on": "2026-01-31", "declared_by": "dm",
                     "reason": "SAP §9.2 interim analysis"} == cutoff
    again = send(api, "POST", "/api/v1/study/cutoffs", "dm", {
        "name": "interim-1", "cutoff_on": "2026-02-28", "reason": "moved"})
    assert again.status_code == 409 and "never changes" in again.json()["detail"]
    datelike = send(api, "POST", "/api/v1/study/cutoffs", "dm", {
        "name": "2026-01-31", "cutoff_on": "2026-01-31", "reason": "x"})
    assert datelike.status_code == 422
    assert send(api, "GET", "/api/v1/study", "coord1").json()["cutoffs"] == [cutoff]
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    assert ledger.declared_cutoff("interim-1").isoformat() == "2026-01-31"
    assert ledger.declared_cutoff("interim-2") is None
    (entry,) = [e for e in audit(api) if e["type"] == "DataCutoffDeclared"]
    assert entry["changes"] == [{"field": "cutoff.interim-1", "old": None, "new": "2026-01-31"}]
    env = {"TRIAL_LEDGER_DATABASE_URL": settings.database_url}
    by_name = CliRunner().invoke(cli, ["endpoints", "--criteria", "mRECIST", "--cutoff",
                                       "interim-1", "--json"], env=env)
    assert by_name.exit_code == 0, by_name.output
    assert '"cutoff": "2026-01-31"' in by_name.output
    unknown = CliRunner().invoke(cli, ["endpoints", "--criteria", "mRECIST", "--cutoff",
                                       "interim-2"], env=env)
    assert unknown.exit_code == 2 and "nor a declared cutoff" in unknown.output
    through_api = send(api, "GET", "/api/v1/endpoints?criteria=mRECIST&cutoff=interim-1", "dm")
    assert through_api.status_code == 200 and through_api.json()["cutoff"] == "2026-01-31"
    dated = send(api, "GET", "/api/v1/endpoints?criteria=mRECIST&cutoff=2026-01-31", "dm")
    now = {"as_of": None, "scope": None}  # both answered as of now, a moment apart
    assert dated.json() | now == through_api.json() | now
    missing = send(api, "GET", "/api/v1/endpoints?criteria=mRECIST&cutoff=interim-2", "dm")
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"loc": "query.cutoff",
                                         "msg": "a date or a declared cutoff name"}]
