"""Common and breached passwords are refused wherever a password is set (NIST SP 800-63B
§5.1.1.2): an administrator's new account or reset, the holder's own change, the console's
`users add`; each a 422 naming the password field and saying why, with the log unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from infra.security.passwords import password_problems
from services.cli import app as cli
from services.seed import DEMO_PASSWORD
from tests.api.conftest import PASSWORD, Api
from tests.api.part11 import NEW_PASSWORD, send

BREACHED = ["password1234", "123456789012"]


def refused_for(response: Any, loc: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    (problem,) = response.json()["errors"]
    assert problem["loc"] == loc
    assert "common and breached" in problem["msg"] or "too easy to guess" in problem["msg"]


@pytest.mark.parametrize("password", BREACHED)
def test_breached_passwords_are_refused_everywhere_a_password_is_set(api: Api, password: str
                                                                    ) -> None:
    before = api.ledger_state()
    refused_for(send(api, "POST", "/api/v1/accounts", "admin", {
        "username": "jdoe", "full_name": "Jane Doe", "role": "auditor",
        "password": password}), "password")
    refused_for(send(api, "POST", "/api/v1/accounts/coord1/password", "admin", {
        "new_password": password, "reason": "forgot password"}), "new_password")
    refused_for(api.client.post("/api/v1/accounts/me/password", headers=api.headers("coord2"),
                                json={"current_password": PASSWORD, "new_password": password}),
                "new_password")
    refused_for(api.client.post("/api/v1/auth/password", json={
        "username": "coord1", "current_password": PASSWORD, "new_password": password}),
        "new_password")
    assert api.ledger_state() == before  # the log is unchanged
    assert api.login("coord1").status_code == 200 and api.login("coord2").status_code == 200


def test_the_console_refuses_a_breached_first_password(settings: Any) -> None:
    env = {"TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(settings.secrets_dir)}
    refused = CliRunner().invoke(cli, ["users", "add", "root", "--role", "admin",
                                       "--password-stdin"], input="password1234\n", env=env)
    assert refused.exit_code == 2 and "common and breached" in refused.output
    added = CliRunner().invoke(cli, ["users", "add", "root", "--role", "admin",
                                     "--password-stdin"], input=NEW_PASSWORD + "\n", env=env)
    assert added.exit_code == 0, added.output


def test_the_fixture_and_demo_passphrases_stay_acceptable() -> None:
    for username, password in (("coord1", PASSWORD), ("data.manager", DEMO_PASSWORD),
                               ("jdoe", NEW_PASSWORD)):
        assert password_problems(username, password) == []
    assert password_problems("jdoe", "qwertyuiop123") != []  # a keyboard walk is too
