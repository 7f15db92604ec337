from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.account import Account
from infra.logging import configure_logging
from infra.security.passwords import hash_password
from services.api.app import create_app

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
        if username not in self._tokens:
            response = self.client.post("/api/v1/auth/token",
                                        data={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

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
