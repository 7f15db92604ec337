"""Structured logs say who did what to whom, and never carry secrets or clinical free text."""

from __future__ import annotations

import json

from tests import story
from tests.api.conftest import PASSWORD, Api


def _lines(api: Api) -> list[dict[str, object]]:
    return [json.loads(line) for line in api.log.getvalue().splitlines() if line.strip()]


def test_event_log_lines_name_request_user_participant_type_and_position(api: Api) -> None:
    recorded = api.post("HCC-01-001", story.enrollment(), **{"X-Request-ID": "req-42"}).json()
    (line,) = [entry for entry in _lines(api) if entry["event"] == "event_recorded"]
    assert line["request_id"] == "req-42"
    assert line["user"] == "coord1" and line["role"] == "site_coordinator"
    assert line["participant"] == "HCC-01-001" and line["event_type"] == "ParticipantEnrolled"
    assert line["position"] == recorded["position"]
    assert line["level"] == "info" and str(line["timestamp"]).endswith("Z")
    (stored,) = api.get("/api/v1/participants/HCC-01-001/events").json()
    assert stored["client_request_id"] == "req-42"  # inside the hashed payload


def test_logs_never_hold_passwords_tokens_or_clinical_text(api: Api) -> None:
    token = api.token("coord1")
    api.client.post("/api/v1/auth/token", data={"username": "coord1", "password": "wrong-pass-1"})
    api.post("HCC-01-001", story.enrollment())
    api.post("HCC-01-001", story.adverse_event("AE1", "2026-02-01", term="Nasopharyngitis"))
    api.post("HCC-01-001", story.death("2026-03-01", cause="Variceal haemorrhage"))
    api.post("HCC-01-001", story.follow_up("2026-03-05"))  # refused: after death
    text = api.log.getvalue()
    for secret in (PASSWORD, "wrong-pass-1", token, "Nasopharyngitis", "Variceal haemorrhage"):
        assert secret not in text
    assert any(entry["event"] == "login_failed" for entry in _lines(api))
    refused = [e for e in _lines(api) if e["event"] == "request" and e["status"] == 409]
    assert refused and refused[0]["level"] == "warning"
