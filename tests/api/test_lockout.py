"""Lockout (Part 11 §11.300(d)) from the attacker's and the holder's side: five wrong passwords in
a row lock new sign-ins for a while (15 minutes, doubling on repeats), as a security event in
the ledger and a structured warning; the holder's live tokens keep working; an administrator
can end it early, and an administrator's own lock stands and revokes tokens."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from services.authentication import REFUSED
from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import audit, bearer, log_lines, send

WRONG = "not the password"


def move_clock(api: Api, by: timedelta) -> Callable[[], datetime]:
    """Let the app's clock run `by` ahead of real time (the lockout and the throttle follow)."""
    def later() -> datetime:
        return datetime.now(UTC) + by
    api.client.app.state.clock = later  # type: ignore[attr-defined]
    return later


def account(api: Api, username: str) -> dict[str, Any]:
    body: dict[str, Any] = send(api, "GET", f"/api/v1/accounts/{username}", "admin").json()
    return body


def test_five_wrong_passwords_lock_sign_in_for_15_minutes_without_revoking_tokens(api: Api
                                                                                 ) -> None:
    token = bearer(api, "coord1", PASSWORD)
    for _ in range(5):
        wrong = api.login("coord1", WRONG)
        assert wrong.status_code == 401 and wrong.json()["detail"] == REFUSED
    right = api.login("coord1", PASSWORD)
    assert right.status_code == 401 and right.json()["detail"] == REFUSED  # nothing revealed
    assert api.client.get("/api/v1/participants", headers=token).status_code == 200

    trail = [e for e in audit(api) if e["stream_id"] == "account:coord1"]
    assert [e["type"] for e in trail] == [
        "AccountCreated", "LoginSucceeded", *["LoginFailed"] * 5, "AccountLocked", "LoginFailed"]
    locked = trail[-2]
    assert (locked["recorded_by"], locked["reason"]) == ("system",
                                                         "5 consecutive failed sign-ins")
    assert (trail[-1]["recorded_by"], trail[-1]["reason"]) == ("coord1", "account locked")
    (warning,) = [e for e in log_lines(api) if e["event"] == "account_locked"]
    assert (warning["level"], warning["username"], warning["failures"], warning["minutes"]) == (
        "warning", "coord1", 5, 15)
    view = account(api, "coord1")
    assert view["locked"] is True and view["locked_by"] == "system"
    until = datetime.fromisoformat(view["locked_until"])
    assert timedelta(minutes=14) < until - datetime.now(UTC) <= timedelta(minutes=15)

    move_clock(api, timedelta(minutes=14))
    assert api.login("coord1", PASSWORD).status_code == 401
    move_clock(api, timedelta(minutes=15, seconds=1))
    assert api.login("coord1", PASSWORD).status_code == 200  # it ended by itself
    assert account(api, "coord1")["locked"] is False


def test_repeat_lockouts_double_and_an_admin_unlock_ends_one_early(api: Api) -> None:
    start = datetime.now(UTC)
    lengths = []
    ahead = timedelta(0)
    for _ in range(3):
        for _ in range(5):
            assert api.login("monitor1", WRONG).status_code == 401
        until = datetime.fromisoformat(account(api, "monitor1")["locked_until"])
        lengths.append(round((until - (start + ahead)).total_seconds() / 60))
        ahead = until - start + timedelta(seconds=1)
        move_clock(api, ahead)
    assert lengths == [15, 30, 60]

    for _ in range(5):
        api.login("monitor1", WRONG)
    assert account(api, "monitor1")["locked"] is True
    unlocked = send(api, "POST", "/api/v1/accounts/monitor1/unlock", "admin",
                    {"reason": "identity confirmed by phone"})
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is False
    assert unlocked.json()["consecutive_failed_logins"] == 0
    assert api.login("monitor1", PASSWORD).status_code == 200
    for _ in range(5):
        api.login("monitor1", WRONG)
    later = datetime.fromisoformat(account(api, "monitor1")["locked_until"])
    assert round((later - datetime.now(UTC) - ahead).total_seconds() / 60) == 15  # reset


def test_the_lockout_length_and_its_cap_are_settings(api: Api) -> None:
    app = api.client.app
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"lockout_minutes": 2, "lockout_max_minutes": 3})
    lengths = []
    for step in range(3):
        move_clock(api, timedelta(minutes=4 * step))
        for _ in range(5):
            api.login("dm", WRONG)
        until = datetime.fromisoformat(account(api, "dm")["locked_until"])
        lengths.append(round((until - datetime.now(UTC)).total_seconds() / 60) - 4 * step)
    assert lengths == [2, 3, 3]


def test_only_consecutive_failures_count(api: Api) -> None:
    for _ in range(2):
        for _ in range(4):
            assert api.login("coord1", WRONG).status_code == 401
        assert api.login("coord1", PASSWORD).status_code == 200
    view = account(api, "coord1")
    assert view["locked"] is False and view["consecutive_failed_logins"] == 0


def test_an_admin_lock_stands_revokes_tokens_and_its_reason_is_not_shown_at_sign_in(
        api: Api) -> None:
    assert api.get("/api/v1/participants", user="monitor1").status_code == 200
    locked = send(api, "POST", "/api/v1/accounts/monitor1/lock", "admin",
                  {"reason": "suspected shared password"})
    assert locked.status_code == 200 and locked.json()["lock_reason"] == (
        "suspected shared password")
    assert locked.json()["locked_until"] is None
    assert api.get("/api/v1/participants", user="monitor1").status_code == 401
    move_clock(api, timedelta(days=30))
    login = api.login("monitor1")
    assert login.status_code == 401 and login.json()["detail"] == REFUSED
    assert "suspected shared password" not in login.text


def test_concurrent_wrong_passwords_lock_exactly_once(api: Api) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: api.login("invest1", WRONG).status_code, range(8)))
    assert codes == [401] * 8
    trail = [e for e in audit(api) if e["stream_id"] == "account:invest1"]
    assert [e["type"] for e in trail].count("AccountLocked") == 1
    assert [e["type"] for e in trail].count("LoginFailed") == 8
    assert account(api, "invest1")["consecutive_failed_logins"] == 8


def test_unknown_wrong_locked_and_deactivated_are_refused_with_one_body(api: Api) -> None:
    send(api, "POST", "/api/v1/accounts/monitor1/lock", "admin", {"reason": "on leave"})
    send(api, "POST", "/api/v1/accounts/dm/deactivate", "admin", {"reason": "left the CRO"})
    answers = {
        "unknown user": api.login("ghost", PASSWORD),
        "wrong password": api.login("coord1", WRONG),
        "locked": api.login("monitor1", PASSWORD),
        "deactivated": api.login("dm", PASSWORD),
    }
    bodies = {case: (r.status_code, r.headers["content-type"], r.json())
              for case, r in answers.items()}
    assert len({repr(body) for body in bodies.values()}) == 1, bodies
    status, content_type, body = bodies["locked"]
    assert (status, content_type) == (401, "application/problem+json")
    assert body["detail"] == REFUSED and body["errors"] == []
