"""Accounts as events (Part 11 §11.10(d), §11.100, §11.300), through the real API on both
stores: created, role granted/revoked, sites assigned, password changed, deactivated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from typer.testing import CliRunner

from infra.security.tokens import issue_token
from services.authentication import REFUSED
from services.cli import app as cli
from tests import story
from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import NEW_PASSWORD, audit, bearer, log_lines, new_account, send, stored_bytes

ACCOUNTS = "/api/v1/accounts"
CHOSEN = "a passphrase of my own 4"


def holder_sets_password(api: Api, username: str, first: str = NEW_PASSWORD,
                         chosen: str = CHOSEN) -> dict[str, str]:
    """The holder of a new account replaces the first password, then signs in."""
    changed = api.client.post("/api/v1/auth/password", json={
        "username": username, "current_password": first, "new_password": chosen})
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False
    return bearer(api, username, chosen)


def test_an_account_an_admin_creates_gets_no_token_until_its_holder_sets_a_password(
        api: Api) -> None:
    created = new_account(api, "jdoe", "site_coordinator", ["S02"], full_name="Jane Doe")
    assert created | {"username": "jdoe", "full_name": "Jane Doe", "role": "site_coordinator",
                      "sites": ["S02"], "active": True, "locked": False,
                      "must_change_password": True} == created
    first = api.login("jdoe", NEW_PASSWORD)  # the admin knows this password: not enough
    assert first.status_code == 401 and "access_token" not in first.json()
    assert "set by an administrator" in first.json()["detail"]
    assert "POST /api/v1/auth/password" in first.json()["detail"]
    wrong = api.login("jdoe", "not the first password")
    assert wrong.json()["detail"] == REFUSED  # said only after the password was verified
    headers = holder_sets_password(api, "jdoe")
    enrolled = api.client.post("/api/v1/participants/HCC-02-001/events",
                               json=story.enrollment(site_id="S02"), headers=headers)
    assert enrolled.status_code == 201 and enrolled.json()["recorded_by"] == "jdoe"
    assert [e["reason"] for e in audit(api) if e["stream_id"] == "account:jdoe"][:6] == [
        "account created", "password must be changed", "wrong password at sign-in",
        "password checked for password change", "password changed by its holder",
        "password checked for sign-in"]
    created_entry, login = (e for e in audit(api) if e["type"] in ("AccountCreated",
                                                                   "LoginSucceeded")
                            and e["stream_id"] == "account:jdoe"
                            and e["reason"] != "password checked for password change")
    assert (created_entry["recorded_by"], created_entry["role"]) == ("admin", "admin")
    assert {"field": "role", "old": None, "new": "site_coordinator"} in created_entry["changes"]
    assert (login["recorded_by"], login["reason"]) == ("jdoe", "password checked for sign-in")
    listed = send(api, "GET", ACCOUNTS, "admin").json()
    assert {a["username"] for a in listed} >= {"jdoe", "admin", "coord1"}
    assert send(api, "GET", f"{ACCOUNTS}/jdoe", "admin").json()["full_name"] == "Jane Doe"
    assert send(api, "GET", f"{ACCOUNTS}/nobody", "admin").status_code == 404


def test_account_requests_are_checked_and_only_admins_may_make_them(api: Api) -> None:
    bad = send(api, "POST", ACCOUNTS, "admin", {"username": "Bad Name", "full_name": "Bad",
                                               "role": "wizard", "password": "short"})
    assert bad.status_code == 422
    assert {e["loc"] for e in bad.json()["errors"]} == {"username", "role", "password"}
    blank = send(api, "POST", ACCOUNTS, "admin", {"username": "jdoe", "full_name": " ",
                                                 "role": "auditor", "password": NEW_PASSWORD})
    assert blank.status_code == 422
    assert [e["loc"] for e in blank.json()["errors"]] == ["full_name"]
    reserved = send(api, "POST", ACCOUNTS, "admin", {"username": "me", "full_name": "Me",
                                                    "role": "auditor", "password": NEW_PASSWORD})
    assert reserved.status_code == 422 and "reserved" in reserved.text
    assert send(api, "POST", ACCOUNTS, "dm", {"username": "x1", "full_name": "X", "role":
                                             "admin", "password": NEW_PASSWORD}).status_code == 403
    assert send(api, "POST", f"{ACCOUNTS}/coord1/lock", "admin", {"reason": " "}
                ).status_code == 422  # every change needs a reason


def test_a_username_is_never_reused_even_after_deactivation(api: Api) -> None:
    new_account(api, "jdoe", "monitor", ["S01"])
    old_token = holder_sets_password(api, "jdoe")
    gone = send(api, "POST", f"{ACCOUNTS}/jdoe/deactivate", "admin", {"reason": "left the CRO"})
    assert gone.status_code == 200 and gone.json()["active"] is False
    again = send(api, "POST", ACCOUNTS, "admin", {
        "username": "jdoe", "full_name": "John Doe", "role": "monitor", "sites": ["S01"],
        "password": NEW_PASSWORD})
    assert again.status_code == 409 and "never reused" in again.json()["detail"]
    login = api.login("jdoe", CHOSEN)
    assert login.status_code == 401 and login.json()["detail"] == REFUSED  # says nothing more
    stale = api.client.get("/api/v1/participants", headers=old_token)
    assert stale.status_code == 401 and "deactivated" in stale.json()["detail"]
    closed = send(api, "POST", f"{ACCOUNTS}/jdoe/unlock", "admin", {"reason": "oops"})
    assert closed.status_code == 409 and "deactivated for good" in closed.json()["detail"]
    assert [e["changes"] for e in audit(api, user="admin") if e["type"] == "AccountDeactivated"
            ] == [[{"field": "active", "old": True, "new": False}]]


def test_role_and_sites_come_from_the_account_now_never_from_the_token(api: Api) -> None:
    api.post("HCC-02-001", story.enrollment(site_id="S02"), user="coord2")
    assert api.get("/api/v1/participants/HCC-02-001", user="monitor1").status_code in (403, 404)
    sites = send(api, "POST", f"{ACCOUNTS}/monitor1/sites", "admin",
                 {"sites": ["S01", "S02"], "reason": "now also monitors S02"})
    assert sites.status_code == 200 and sites.json()["sites"] == ["S01", "S02"]
    assert api.get("/api/v1/participants/HCC-02-001", user="monitor1").status_code == 200
    assert api.post("HCC-01-001", story.enrollment(), user="dm").status_code == 201
    demoted = send(api, "POST", f"{ACCOUNTS}/dm/role", "admin",
                   {"role": "auditor", "reason": "moved to QA"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "auditor"
    assert api.post("HCC-01-001", story.follow_up("2026-02-01"), user="dm").status_code == 403
    revoked = send(api, "POST", f"{ACCOUNTS}/dm/role", "admin", {"role": None,
                                                                 "reason": "left the study"})
    assert revoked.json()["role"] is None
    refused = api.get("/api/v1/participants", user="dm")
    assert refused.status_code == 403 and "no role" in refused.json()["detail"]
    changes = [(e["type"], e["changes"], e["reason"]) for e in audit(api, user="admin")
               if e["type"] in ("RoleGranted", "RoleRevoked", "SitesAssigned")]
    assert changes == [
        ("SitesAssigned", [{"field": "sites", "old": ["S01"], "new": ["S01", "S02"]}],
         "now also monitors S02"),
        ("RoleGranted", [{"field": "role", "old": "data_manager", "new": "auditor"}],
         "moved to QA"),
        ("RoleRevoked", [{"field": "role", "old": "auditor", "new": None}], "left the study")]


def test_admins_do_not_act_on_their_own_account(api: Api) -> None:
    for verb, body in (("lock", {"reason": "x"}), ("deactivate", {"reason": "x"}),
                       ("role", {"role": "auditor", "reason": "x"}),
                       ("password", {"new_password": NEW_PASSWORD, "reason": "x"})):
        response = send(api, "POST", f"{ACCOUNTS}/admin/{verb}", "admin", body)
        assert response.status_code == 409 and "another administrator" in response.text


def test_password_rules_length_username_and_the_last_five(api: Api) -> None:
    new_account(api, "jdoe", "auditor", password="initial passphrase 000")
    headers = holder_sets_password(api, "jdoe", "initial passphrase 000", "first passphrase 001")
    for n in range(2, 6):
        changed = api.client.post(f"{ACCOUNTS}/me/password", headers=headers, json={
            "current_password": f"first passphrase 00{n - 1}",
            "new_password": f"first passphrase 00{n}"})
        assert changed.status_code == 200, changed.text
        headers = bearer(api, "jdoe", f"first passphrase 00{n}")
    refused = api.client.post(f"{ACCOUNTS}/me/password", headers=headers, json={
        "current_password": "first passphrase 005", "new_password": "first passphrase 001"})
    assert refused.status_code == 422 and "not be one of the last 5" in refused.text
    weak = api.client.post(f"{ACCOUNTS}/me/password", headers=headers, json={
        "current_password": "first passphrase 005", "new_password": "jdoe-2026"})
    assert weak.status_code == 422
    assert [e["msg"] for e in weak.json()["errors"]][:2] == [
        "the password must have at least 12 characters",
        "the password must not contain the username"]
    assert {e["loc"] for e in weak.json()["errors"]} == {"new_password"}
    sixth = api.client.post(f"{ACCOUNTS}/me/password", headers=headers, json={
        "current_password": "first passphrase 005", "new_password": "first passphrase 006"})
    assert sixth.status_code == 200 and sixth.json()["password_version"] == 7
    assert api.client.post(f"{ACCOUNTS}/me/password", headers=bearer(
        api, "jdoe", "first passphrase 006"), json={
        "current_password": "first passphrase 006",
        "new_password": "first passphrase 001"}).status_code == 200  # six back: allowed again


def test_a_password_change_revokes_earlier_tokens_and_needs_the_current_password(api: Api
                                                                                 ) -> None:
    old = bearer(api, "coord1", PASSWORD)
    wrong = api.client.post(f"{ACCOUNTS}/me/password", headers=old, json={
        "current_password": "not my password", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 401
    assert audit(api, user="coord1")[-1]["reason"] == "wrong password at password change"
    changed = api.client.post(f"{ACCOUNTS}/me/password", headers=old, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200
    stale = api.client.get("/api/v1/participants", headers=old)
    assert stale.status_code == 401 and "revoked" in stale.json()["detail"]
    assert api.login("coord1", PASSWORD).status_code == 401
    assert api.client.get("/api/v1/participants", headers=bearer(api, "coord1")
                          ).status_code == 200
    (entry,) = [e for e in audit(api, user="coord1") if e["type"] == "PasswordChanged"]
    assert entry["changes"] == [{"field": "password_version", "old": 1, "new": 2}]


def test_a_reset_password_must_be_replaced_before_signing_in(api: Api) -> None:
    reset = send(api, "POST", f"{ACCOUNTS}/coord1/password", "admin",
                 {"new_password": "temporary passphrase 1", "reason": "forgot password"})
    assert reset.status_code == 200
    assert reset.json()["must_change_password"] is True
    expired = api.login("coord1", "temporary passphrase 1")
    assert expired.status_code == 401 and "set by an administrator" in expired.json()["detail"]
    chosen = api.client.post("/api/v1/auth/password", json={
        "username": "coord1", "current_password": "temporary passphrase 1",
        "new_password": NEW_PASSWORD})
    assert chosen.status_code == 200, chosen.text
    assert api.login("coord1", NEW_PASSWORD).status_code == 200


def test_optional_password_aging(api: Api) -> None:
    app = api.client.app
    assert api.login("coord1").status_code == 200  # aging is off by default
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"password_max_age_days": 90})
    assert api.login("coord1").status_code == 200
    app.state.clock = lambda: datetime.now(UTC) + timedelta(days=91)  # type: ignore[attr-defined]
    aged = api.login("coord1")
    assert aged.status_code == 401 and "password has expired" in aged.json()["detail"]
    assert api.client.post("/api/v1/auth/password", json={
        "username": "coord1", "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    ).status_code == 200
    del app.state.clock  # type: ignore[attr-defined]
    assert api.login("coord1", NEW_PASSWORD).status_code == 200


def test_tokens_expire_and_their_lifetime_is_a_setting(api: Api) -> None:
    app = api.client.app
    settings = app.state.settings  # type: ignore[attr-defined]
    assert api.login("coord1").json()["expires_in"] == 15 * 60
    app.state.settings = settings.model_copy(update={"token_ttl_minutes": 5})  # type: ignore
    assert api.login("coord1").json()["expires_in"] == 5 * 60
    secret = app.state.secrets.token_secret  # type: ignore[attr-defined]
    token, _ = issue_token(secret, username="coord1", role="site_coordinator",
                           account_version=1, ttl=timedelta(minutes=15),
                           now=datetime.now(UTC) - timedelta(minutes=16))
    expired = api.client.get("/api/v1/participants", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_nothing_secret_is_stored_or_logged(api: Api) -> None:
    new_account(api, "jdoe", "auditor")
    headers = holder_sets_password(api, "jdoe")
    api.client.post(f"{ACCOUNTS}/me/password", headers=headers, json={
        "current_password": CHOSEN, "new_password": "third passphrase 33"})
    api.login("jdoe", "a wrong passphrase 99")
    api.login("correct horse battery staple", "whatever it is 1")  # a password as a username
    stored = stored_bytes(api)
    logged = api.log.getvalue()
    for secret in (NEW_PASSWORD, CHOSEN, "third passphrase 33", "a wrong passphrase 99",
                   "correct horse battery staple", headers["Authorization"][7:]):
        assert secret.encode() not in stored and secret not in logged
    assert b"$argon2id$" in stored and "$argon2id$" not in logged
    for view in send(api, "GET", ACCOUNTS, "admin").json():
        assert "argon2" not in str(view)
    assert all("argon2" not in str(e["changes"]) for e in audit(api))
    assert {"login", "login_failed", "account_changed"} <= {e["event"] for e in log_lines(api)}


def test_the_first_admin_comes_from_the_cli_which_can_also_lock_and_unlock(
        settings: Any) -> None:
    runner = CliRunner()
    env = {"TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(settings.secrets_dir)}
    added = runner.invoke(cli, ["users", "add", "root", "--role", "admin", "--full-name",
                                "Ops Root", "--password-stdin"], input=NEW_PASSWORD + "\n",
                          env=env)
    assert added.exit_code == 0, added.output
    for args in (["users", "lock", "root", "--reason", "audit drill"],
                 ["users", "unlock", "root", "--reason", "drill over"],
                 ["users", "grant", "root", "--role", "auditor", "--reason", "handover"],
                 ["users", "deactivate", "root", "--reason", "left"]):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
    refused = runner.invoke(cli, ["users", "unlock", "root", "--reason", "x"], env=env)
    assert refused.exit_code == 2 and "deactivated for good" in refused.output
