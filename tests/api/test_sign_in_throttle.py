"""The sign-in throttle from an anonymous attacker's side: per client address and per typed
username, answered 429 with Retry-After before any password is hashed, so a burst neither
costs argon2 time nor grows the ledger; unknown usernames are recorded only as keyed digests,
and at most a set number per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.security.passwords import verify_password
from services import authentication
from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import NEW_PASSWORD, audit, log_lines, send, stored_bytes


def configure(api: Api, **limits: int) -> None:
    app = api.client.app
    app.state.settings = app.state.settings.model_copy(update=limits)  # type: ignore


def count_password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on argon2 verification (it still runs): one entry per password checked."""
    checks: list[str] = []

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password_hash[:9])
        return verify_password(password_hash, password)
    monkeypatch.setattr(authentication, "verify_password", counted)
    return checks


def assert_throttled(response: Any, loc: str) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Too many sign-in attempts"
    assert [e["loc"] for e in body["errors"]] == [loc]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 300 and f"try again in {retry_after} s" in body["detail"]
    return retry_after


def test_an_anonymous_burst_against_admin_is_throttled_and_stops_growing_the_ledger(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = api.headers("admin")  # the administrator's live token, from before the burst
    checks = count_password_checks(monkeypatch)
    answers = [api.login("admin", f"guess number {n}") for n in range(10)]
    assert [r.status_code for r in answers] == [401] * 10
    assert len(checks) == 10
    before = api.ledger_state()
    for n in range(10, 30):
        assert_throttled(api.login("admin", f"guess number {n}"), "username")
    assert len(checks) == 10  # no argon2 for a throttled attempt
    assert api.ledger_state() == before  # and no event
    assert assert_throttled(api.login("admin", PASSWORD), "username") > 0  # holder waits too
    trail = [e["type"] for e in audit(api) if e["stream_id"] == "account:admin"]
    assert trail.count("LoginFailed") == 10 and trail.count("AccountLocked") == 1
    assert api.client.get("/api/v1/accounts", headers=holder).status_code == 200
    throttled = [e for e in log_lines(api) if e["event"] == "sign_in_throttled"]
    assert len(throttled) == 21 and throttled[0]["level"] == "warning"
    assert {e["scope"] for e in throttled} == {"username"}


def test_one_address_is_throttled_across_usernames_until_the_window_moves_on(api: Api) -> None:
    configure(api, sign_in_attempts_per_address=4, sign_in_window_seconds=60)
    for name in ("ghost1", "ghost2", "coord1", "coord2"):
        assert api.login(name, "not the password").status_code == 401
    before = api.ledger_state()
    retry_after = assert_throttled(api.login("monitor1", PASSWORD), "client")
    assert retry_after <= 60 and api.ledger_state() == before
    changing = api.client.post("/api/v1/auth/password", json={
        "username": "monitor1", "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_throttled(changing, "client")  # the anonymous password change is throttled too
    app = api.client.app
    app.state.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)  # type: ignore
    assert api.login("monitor1", PASSWORD).status_code == 200


def test_right_passwords_do_not_fill_the_window(api: Api) -> None:
    configure(api, sign_in_attempts_per_address=2, sign_in_attempts_per_username=2)
    for _ in range(3):
        for user in ("coord1", "coord2"):
            assert api.login(user).status_code == 200  # a busy site behind one address


def test_unknown_usernames_are_recorded_as_digests_and_at_most_a_budget_per_window(
        api: Api) -> None:
    configure(api, unknown_username_events_per_window=2, sign_in_window_seconds=60)
    typed = ["my secret phrase", "Correct Horse 77", "ghost", "another@typo"]
    for name in typed:
        assert api.login(name, "x").status_code == 401
    again = api.login("ghost", "x")
    entries = [e for e in audit(api) if e["stream_id"] == "security:login"]
    assert [(e["type"], e["recorded_by"], e["reason"]) for e in entries] == [
        ("SecurityLogOpened", "system", "first sign-in failure for an unknown username"),
        ("LoginFailed", "unknown", "unknown username"),
        ("LoginFailed", "unknown", "unknown username")]  # the budget of 2 is spent
    assert again.status_code == 401
    stored, logged = stored_bytes(api), api.log.getvalue()
    for name in typed:
        assert name.encode() not in stored and name not in logged
    failures = [e for e in log_lines(api) if e["event"] == "login_failed"]
    digests = [e["username_digest"] for e in failures]
    assert len(failures) == 5 and "username" not in failures[0]
    assert digests[2] == digests[4] and len(set(digests)) == 4  # same name, same digest
    assert [e.get("recorded", True) for e in failures] == [True, True, False, False, False]

    app = api.client.app
    app.state.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)  # type: ignore
    assert api.login("ghost", "x").status_code == 401
    store = app.state.ledger  # type: ignore[attr-defined]
    latest = list(store.repository.event_store.get("security:login"))[-1]
    assert latest.unrecorded_before == 3 and latest.username_digest == digests[2]


def test_a_throttled_unknown_username_costs_nothing(api: Api,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    configure(api, sign_in_attempts_per_username=3)
    checks = count_password_checks(monkeypatch)
    for _ in range(3):
        assert api.login("nobody.here", "x").status_code == 401
    before = api.ledger_state()
    for _ in range(5):
        assert_throttled(api.login("nobody.here", "x"), "username")
    assert api.ledger_state() == before and len(checks) == 3
    assert send(api, "GET", "/api/v1/accounts/coord1", "admin").status_code == 200
