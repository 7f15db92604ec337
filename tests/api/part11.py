"""Helpers the Part 11 API tests share: admin calls, new accounts, the audit feed, raw bytes."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

NEW_PASSWORD = "another long passphrase 7"


def send(api: Api, method: str, path: str, user: str | None, json: Any = None) -> Any:
    """One request as `user` (None: no token)."""
    headers = api.headers(user) if user else {}
    return api.client.request(method, path, json=json, headers=headers)


def new_account(api: Api, username: str, role: str, sites: list[str] | None = None,
                password: str = NEW_PASSWORD, full_name: str | None = None) -> dict[str, Any]:
    response = send(api, "POST", "/api/v1/accounts", "admin", {
        "username": username, "full_name": full_name or username.title(), "role": role,
        "sites": sites or [], "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(api: Api, username: str, password: str = NEW_PASSWORD) -> dict[str, str]:
    """Sign in through the token endpoint; the Authorization header for the new token."""
    response = api.login(username, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/api/v1/audit-trail", headers=api.headers("auditor"),
                              params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def stored_bytes(api: Api) -> bytes:
    """Every stored event's bytes, as a DBA would read them."""
    store = api.client.app.state.ledger.store  # type: ignore[attr-defined]
    return b"\n".join(row.state for row in store.iter_stored())


def log_lines(api: Api) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in api.log.getvalue().splitlines() if line.strip()]
