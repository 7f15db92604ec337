"""The audit trail an auditor reads comes from verified event bytes: a hand-edited read model
cannot show a forged author or reason, and `verify` can rebuild the read models to name one
that was edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from infra.db import DatabaseURL, create_engine
from tests import story
from tests.api.conftest import Api


@pytest.fixture
def owner_engine(store_url: str) -> Iterator[sa.Engine]:
    """The schema owner's connection: a DBA editing the read models by hand."""
    engine = create_engine(DatabaseURL.parse(store_url))
    yield engine
    engine.dispose()


def trail(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/api/v1/audit-trail", headers=api.headers("auditor"),
                              params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def corrected_story(api: Api) -> dict[str, Any]:
    """A dose, then a correction by the data manager with a reason; the worker catches up."""
    api.post("HCC-01-001", story.enrollment())
    dose = api.post("HCC-01-001", story.camrelizumab("2026-01-12", dose_mg=20)).json()
    fix: dict[str, Any] = api.post(
        "HCC-01-001",
        story.correction(dose["event_id"], "2026-01-12", story.camrelizumab("x")["data"],
                         reason="dose transcribed from the wrong line", new_date="2026-01-13"),
        user="dm").json()
    api.client.app.state.projector.catch_up()  # type: ignore[attr-defined]
    return fix


def forge(engine: sa.Engine, position: int) -> None:
    with engine.begin() as conn:
        changed = conn.execute(sa.text(
            "UPDATE audit_feed SET recorded_by = 'coord1', role = 'site_coordinator', "
            "reason = 'forged reason' WHERE position = :p"), {"p": position}).rowcount
    assert changed == 1


def test_a_forged_author_and_reason_in_the_read_model_show_the_true_ones_flagged(
        api: Api, owner_engine: sa.Engine) -> None:
    fix = corrected_story(api)
    assert all(e["verified"] for e in trail(api))
    forge(owner_engine, fix["position"])
    entries = {e["position"]: e for e in trail(api, participant_id="HCC-01-001")}
    shown = entries[fix["position"]]
    assert (shown["recorded_by"], shown["role"], shown["reason"]) == (
        "dm", "data_manager", "dose transcribed from the wrong line")
    assert shown["verified"] is False
    assert "recorded_by" in shown["problems"][0] and "reason" in shown["problems"][0]
    assert shown["changes"][0] == {"field": "occurred_on", "old": "2026-01-12",
                                   "new": "2026-01-13"}
    assert all(e["verified"] for p, e in entries.items() if p != fix["position"])
    assert "audit_entry_not_verified" in api.log.getvalue()
    assert [e["position"] for e in trail(api, user="coord1")
            if e["position"] == fix["position"]] == []  # not listed as coord1's entry

    report = api.client.get("/api/v1/participants/HCC-01-001/audit-report",
                            headers=api.headers("auditor"))
    assert report.status_code == 200
    assert "forged reason" not in report.text
    assert "dose transcribed from the wrong line" in report.text
    assert "<td>dm</td><td>data_manager</td>" in report.text
    assert "NOT VERIFIED" in report.text


def test_an_event_whose_stored_bytes_were_altered_is_flagged(
        api: Api, owner_engine: sa.Engine, store_kind: str) -> None:
    fix = corrected_story(api)
    column = "notification_id" if store_kind == "postgresql" else "rowid"
    with owner_engine.begin() as conn:
        if store_kind == "postgresql":
            conn.execute(sa.text("ALTER TABLE stored_events DISABLE TRIGGER USER"))
            conn.execute(sa.text(
                "UPDATE stored_events SET state = convert_to(replace(convert_from(state, "
                f"'UTF8'), 'wrong line', 'other line'), 'UTF8') WHERE {column} = :p"),
                {"p": fix["position"]})
        else:
            conn.execute(sa.text("DROP TRIGGER stored_events_no_update"))
            conn.execute(sa.text("UPDATE stored_events SET state = CAST(replace(CAST(state AS "
                                 "TEXT), 'wrong line', 'other line') AS BLOB) WHERE rowid = :p"),
                         {"p": fix["position"]})
    shown = next(e for e in trail(api) if e["position"] == fix["position"])
    assert shown["verified"] is False
    assert any("do not match its chain hash" in p for p in shown["problems"])


def test_a_client_sees_its_own_write_at_once_without_a_read_running_the_projector(
        api: Api) -> None:
    corrected_story(api)
    recorded = api.post("HCC-01-001", story.follow_up("2026-02-01")).json()
    before = api.get("/api/v1/projections", user="auditor").json()
    shown = trail(api, participant_id="HCC-01-001")[-1]
    assert (shown["position"], shown["type"], shown["recorded_by"], shown["verified"]) == (
        recorded["position"], "FollowUpContact", "coord1", True)
    assert api.get("/api/v1/projections", user="auditor").json() == before
    assert all(r["behind"] >= 1 for r in before)


def test_an_audit_cursor_beyond_bigint_is_a_422_naming_query_after(api: Api) -> None:
    api.post("HCC-01-001", story.enrollment())
    response = api.client.get("/api/v1/audit-trail", headers=api.headers("auditor"),
                              params={"after": 10**20})
    assert response.status_code == 422, response.text
    assert "query.after" in [e["loc"] for e in response.json()["errors"]]
    assert trail(api, after=2**63 - 1) == []


def test_verify_with_read_models_names_the_edited_read_model(
        api: Api, owner_engine: sa.Engine) -> None:
    fix = corrected_story(api)

    def verified() -> dict[str, Any]:
        response = api.get("/api/v1/ledger/verify", user="auditor", read_models="true")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    clean = verified()
    assert clean["ok"] and clean["read_models"]["ok"]
    assert any(line.startswith("read models: 4 read models match") for line in clean["checks"])
    forge(owner_engine, fix["position"])
    tampered = verified()
    assert tampered["ok"] is False and tampered["events"] > 0  # the chain itself is fine
    assert tampered["read_models"]["differing"] == ["audit_feed"]
    assert tampered["read_models"]["details"]["audit_feed"]["first_difference"] == {
        "position": fix["position"]}
    assert any(line.startswith("read models: FAILED") and "audit_feed" in line
               for line in tampered["checks"])
    assert "read_models" not in api.get("/api/v1/ledger/verify", user="auditor").json()


def test_the_cli_read_models_mode_names_the_edited_read_model(
        api: Api, owner_engine: sa.Engine, settings: Any) -> None:
    corrected_story(api)
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE participant_summaries SET status = 'withdrawn'"))
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(settings.resolved_secrets_dir())}
    run = subprocess.run([sys.executable, "-m", "services.cli", "verify", "--read-models"],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    output = json.loads(run.stdout)
    assert output["read_models"]["differing"] == ["participant_summaries"]
    assert f"chain: {output['events']} events linked" in run.stderr
    assert "read models: FAILED" in run.stderr and "participant_summaries" in run.stderr
