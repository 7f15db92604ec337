from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.account import Account
from infra.logging import configure_logging
from infra.security.passwords import hash_password
from infra.security.tokens import issue_token
from services.app import create_app

PASSWORD = "a long enough passphrase"
USERS = {
    "coord1": ("site_coordinator", ["S01"]),
    "coord2": ("site_coordinator", ["S02"]),
    "invest1": ("investigator", ["S01"]),
    "monitor1": ("monitor", ["S01"]),
    "dm": ("data_manager", []),
    "auditor": ("auditor", []),
    "admin": ("admin", []),
}
PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow by design: hash once per session


class Api:
    """The real app behind a test client, with one signed-in client per user."""

    def __init__(self, client: TestClient, log: io.StringIO) -> None:
        self.client = client
        self.log = log
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        """A token for a fixture user, minted with the server's secret rather than signed in
        for: a sign-in is an event of its own, and tests count the events they cause
        (tests/api/test_lockout.py and test_accounts.py sign in through the endpoint)."""
        if username not in self._tokens:
            app = self.client.app
            account = app.state.ledger.account(username)  # type: ignore[attr-defined]
            settings = app.state.settings  # type: ignore[attr-defined]
            self._tokens[username], _ = issue_token(
                app.state.secrets.token_secret,  # type: ignore[attr-defined]
                username=username, role=account.account_role,
                account_version=account.credentials_version,
                ttl=timedelta(minutes=settings.token_ttl_minutes))
        return self._tokens[username]

    def login(self, username: str, password: str = PASSWORD) -> Any:
        """Sign in through the token endpoint (recorded as LoginSucceeded / LoginFailed)."""
        return self.client.post("/api/v1/auth/token",
                                data={"username": username, "password": password})

    def forget(self, username: str) -> None:
        """Drop a cached token (after its password changed or its account was locked)."""
        self._tokens.pop(username, None)

    def headers(self, username: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}", **extra}

    def post(self, participant_id: str, body: Any, user: str = "coord1", **headers: str) -> Any:
        return self.client.post(f"/api/v1/participants/{participant_id}/events", json=body,
                                headers=self.headers(user, **headers))

    def get(self, path: str, user: str = "coord1", **params: Any) -> Any:
        return self.client.get(path, headers=self.headers(user), params=params)

    def ledger_state(self) -> tuple[int, str | None]:
        """The log's length and head hash, straight from the store."""
        store = self.client.app.state.ledger.store  # type: ignore[attr-defined]
        head = store.head()
        return store.count(), head.event_hash.hex() if head else None


@pytest.fixture
def api(settings) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    log = io.StringIO()
    configure_logging("INFO", stream=log)
    app = create_app(settings, configure_logs=False)
    for username, (role, sites) in USERS.items():
        app.state.ledger.create_account(Account.create(
            username=username, full_name=username.title(), role=role, sites=sites,
            password_hash=PASSWORD_HASH, event_id=str(uuid.uuid4()), actor="setup",
            actor_role="system"))
    with TestClient(app) as client:
        yield Api(client, log)
