"""Lockout (Part 11 §11.300(d)): five wrong passwords in a row lock the account, as a security
event in the ledger and a structured warning; an administrator unlocks it with a reason."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import audit, bearer, log_lines, send


def test_five_wrong_passwords_in_a_row_lock_the_account_until_an_admin_unlocks_it(api: Api
                                                                                  ) -> None:
    token = bearer(api, "coord1", PASSWORD)
    for _ in range(4):
        wrong = api.login("coord1", "not the password")
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong username or password"
    fifth = api.login("coord1", "not the password")
    assert fifth.status_code == 401
    assert "now locked: contact an administrator" in fifth.json()["detail"]
    right = api.login("coord1", PASSWORD)
    assert right.status_code == 401 and "locked" in right.json()["detail"]
    assert "contact an administrator" in right.json()["detail"]
    stale = api.client.get("/api/v1/participants", headers=token)
    assert stale.status_code == 401 and "locked" in stale.json()["detail"]

    trail = [e for e in audit(api) if e["stream_id"] == "account:coord1"]
    assert [e["type"] for e in trail] == [
        "AccountCreated", "LoginSucceeded", *["LoginFailed"] * 5, "AccountLocked", "LoginFailed"]
    locked = trail[-2]
    assert (locked["recorded_by"], locked["reason"]) == ("system",
                                                         "5 consecutive failed sign-ins")
    assert locked["changes"] == [{"field": "locked", "old": False, "new": True}]
    assert trail[6]["changes"] == [{"field": "consecutive_failed_logins", "old": 4, "new": 5}]
    assert (trail[-1]["recorded_by"], trail[-1]["reason"]) == ("coord1", "account locked")
    (warning,) = [e for e in log_lines(api) if e["event"] == "account_locked"]
    assert (warning["level"], warning["username"], warning["failures"]) == (
        "warning", "coord1", 5)

    assert send(api, "POST", "/api/v1/accounts/coord1/unlock", "coord1",
                {"reason": "me"}).status_code == 401  # its own token no longer works
    unlocked = send(api, "POST", "/api/v1/accounts/coord1/unlock", "admin",
                    {"reason": "identity confirmed by phone"})
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is False
    assert unlocked.json()["consecutive_failed_logins"] == 0
    assert api.client.get("/api/v1/participants", headers=token).status_code == 401  # revoked
    assert api.client.get("/api/v1/participants", headers=bearer(api, "coord1", PASSWORD)
                          ).status_code == 200


def test_only_consecutive_failures_count(api: Api) -> None:
    for _ in range(2):
        for _ in range(4):
            assert api.login("coord1", "not the password").status_code == 401
        assert api.login("coord1", PASSWORD).status_code == 200
    account = send(api, "GET", "/api/v1/accounts/coord1", "admin").json()
    assert account["locked"] is False and account["consecutive_failed_logins"] == 0


def test_an_admin_lock_takes_effect_on_tokens_at_once(api: Api) -> None:
    assert api.get("/api/v1/participants", user="monitor1").status_code == 200
    locked = send(api, "POST", "/api/v1/accounts/monitor1/lock", "admin",
                  {"reason": "suspected shared password"})
    assert locked.status_code == 200 and locked.json()["lock_reason"] == (
        "suspected shared password")
    assert api.get("/api/v1/participants", user="monitor1").status_code == 401
    login = api.login("monitor1")
    assert login.status_code == 401 and "suspected shared password" in login.json()["detail"]


def test_concurrent_wrong_passwords_lock_exactly_once(api: Api) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: api.login("invest1", "not the password").status_code,
                              range(8)))
    assert codes == [401] * 8
    trail = [e for e in audit(api) if e["stream_id"] == "account:invest1"]
    assert [e["type"] for e in trail].count("AccountLocked") == 1
    assert [e["type"] for e in trail].count("LoginFailed") == 8
    assert send(api, "GET", "/api/v1/accounts/invest1", "admin").json()[
        "consecutive_failed_logins"] == 8


def test_unknown_usernames_are_refused_alike_and_recorded_without_secrets(api: Api) -> None:
    wrong_password = api.login("coord1", "not the password")
    unknown = api.login("ghost", PASSWORD)
    typed_password = api.login("my secret phrase", "x")
    for response in (unknown, typed_password):
        assert response.status_code == 401
        assert response.json()["detail"] == wrong_password.json()["detail"]
    entries = [e for e in audit(api) if e["stream_id"] == "security:login"]
    assert [(e["type"], e["recorded_by"], e["reason"]) for e in entries] == [
        ("SecurityLogOpened", "system", "first sign-in failure for an unknown username"),
        ("LoginFailed", "ghost", "unknown username"),
        ("LoginFailed", "unknown", "unknown username")]
    assert "my secret phrase" not in api.log.getvalue()
    assert {e["username"] for e in log_lines(api) if e["event"] == "login_failed"} == {
        "coord1", "ghost", "unknown"}
