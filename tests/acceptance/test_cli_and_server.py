"""As a new user would: create an account, start the server, post a story, edit the database
by hand, and watch `trial-ledger verify` name the row."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import story
from tests.acceptance.servers import free_port, serving

CLI = [sys.executable, "-m", "services.cli"]
PASSWORD = "correct horse battery staple"


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@pytest.fixture
def env(store_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TRIAL_LEDGER_DATABASE_URL": store_url,
            "TRIAL_LEDGER_SECRETS_DIR": str(tmp_path / "secrets"),
            "TRIAL_LEDGER_JWT_SECRET": secrets.token_urlsafe(40)}


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        if not serving(base, process):
            process.kill()
            pytest.fail("the server did not start: " + (process.stderr.read() if
                                                        process.stderr else ""))
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_users_add_reads_the_password_from_stdin_and_refuses_weak_ones(env: dict[str, str]
                                                                      ) -> None:
    weak = run(env, "users", "add", "jdoe", "--role", "site_coordinator", "--site", "S01",
               "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "at least 12 characters" in weak.stderr
    ok = run(env, "users", "add", "jdoe", "--role", "site_coordinator", "--site", "S01",
             "--full-name", "Jane Doe", "--password-stdin", stdin=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    again = run(env, "users", "add", "jdoe", "--role", "auditor", "--password-stdin",
                stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "never reused" in again.stderr


def test_a_story_through_the_server_then_a_hand_edit_that_verify_names(
        env: dict[str, str], server: str, store_url: str, store_kind: str) -> None:
    assert run(env, "users", "add", "jdoe", "--role", "site_coordinator", "--site", "S01",
               "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    assert httpx.get(f"{server}/health").json() == {"status": "ok", "store": store_kind}
    token = httpx.post(f"{server}/api/v1/auth/token",
                       data={"username": "jdoe", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server}/api/v1/participants/HCC-01-001/events"
    posted = [httpx.post(url, json=body, headers=headers) for body in (
        story.enrollment(), story.tace("2026-01-14"), story.camrelizumab("2026-01-15"),
        story.adverse_event("AE1", "2026-01-20"), story.follow_up("2026-02-01"))]
    assert [r.status_code for r in posted] == [201] * 5, [r.text for r in posted]

    clean = run(env, "verify")
    assert clean.returncode == 0 and '"ok": true' in clean.stdout
    head = posted[-1].json()["hash"]
    assert run(env, "verify", "--head", head).returncode == 0

    dose = posted[2].json()
    _hand_edit(store_url, store_kind, dose["position"])
    tampered = run(env, "verify")
    assert tampered.returncode == 1
    assert f'"first_bad_position": {dose["position"]}' in tampered.stdout


def _hand_edit(store_url: str, store_kind: str, position: int) -> None:
    if store_kind == "sqlite":
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute("DROP TRIGGER stored_events_no_update")
            conn.execute("UPDATE stored_events SET state = replace(state, '200.0', '300.0') "
                         "WHERE rowid = ?", (position,))
        return
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE stored_events DISABLE TRIGGER USER")
        conn.execute("UPDATE stored_events SET state = convert_to(replace(convert_from(state, "
                     "'UTF8'), '200.0', '300.0'), 'UTF8') WHERE notification_id = %s",
                     (position,))
