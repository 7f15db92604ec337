"""Crashes under load, with real processes on loopback: a server killed with SIGKILL while
clients post loses no acknowledged event and duplicates none; a projection worker killed
mid-run applies every event exactly once; the chain verifies and the read models equal a
rebuild's. The service runs as the PostgreSQL runtime role, migrations as the owner."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import sqlalchemy as sa

from infra.db import DatabaseURL, create_engine
from infra.ledger.verify import verify_ledger
from infra.settings import Settings
from projections.state import rebuild, state_hashes
from services.accounts import add_user
from services.application import Actor, TrialLedger
from tests import story
from tests.acceptance.servers import free_port
from tests.integration.conftest import post

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "services.cli"]
PASSWORD = "correct horse battery staple"
CLIENTS = 4
FOLLOW_UPS = 5


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
            "TRIAL_LEDGER_MIGRATION_DATABASE_URL": settings.migration_url(),
            "TRIAL_LEDGER_RUNTIME_ROLE": settings.runtime_role,
            "TRIAL_LEDGER_SECRETS_DIR": str(tmp_path / "secrets"),
            "TRIAL_LEDGER_JWT_SECRET": secrets.token_urlsafe(40),
            "TRIAL_LEDGER_LOG_LEVEL": "WARNING"}


@pytest.fixture
def owner_engine(store_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(DatabaseURL.parse(store_url))
    yield engine
    engine.dispose()


class Processes:
    """Every process a test starts, killed at the end whatever happens."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[0]}-{len(self.started)}.log").open("wb")
        process = subprocess.Popen([*CLI, *args], env=self.env, stdout=log, stderr=log)
        log.close()
        self.started.append(process)
        return process

    def serve(self, port: int, *options: str) -> subprocess.Popen[bytes]:
        process = self.start("serve", "--port", str(port), *options)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail("the server did not start: " + self.output(process))

    def output(self, process: subprocess.Popen[bytes]) -> str:
        index = self.started.index(process)
        name = process.args[3] if isinstance(process.args, list) else "process"
        return (self.logs / f"{name}-{index}.log").read_text(errors="replace")[-3000:]

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], input=stdin, env=self.env, capture_output=True,
                              text=True, timeout=180, check=False)

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def processes(env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    started = Processes(env, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@dataclass
class Load:
    """Clients posting participants' stories, each request under its own Idempotency-Key and
    retried with that key until acknowledged (201), across a server's death."""

    base: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> event_id
    refusals: list[str] = field(default_factory=list)
    retries: int = 0  # requests that met a dead or restarting server
    guard: threading.Lock = field(default_factory=threading.Lock)

    def send(self, client: httpx.Client, key: str, participant_id: str,
             body: dict[str, Any]) -> bool:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                response = client.post(f"{self.base}/api/v1/participants/{participant_id}/events",
                                       json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError:
                self.retries += 1  # the server is down or died mid-request: retry the same key
                time.sleep(0.1)
                continue
            if response.status_code == 201:
                with self.guard:
                    self.acknowledged[key] = response.json()["event_id"]
                return True
            if response.status_code < 500:
                self.refusals.append(f"{key}: {response.status_code} {response.text}")
                return False
            time.sleep(0.1)
        self.refusals.append(f"{key}: never acknowledged")
        return False

    def client(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=10) as client:
            for k in range(100):
                participant_id = f"HCC-01-{number * 100 + k:03d}"
                bodies = [story.enrollment()] + [story.follow_up(f"2026-02-{day:02d}")
                                                 for day in range(1, FOLLOW_UPS + 1)]
                for step, body in enumerate(bodies):
                    if self.stop.is_set() and step == 0:
                        return
                    if not self.send(client, f"c{number}-p{k}-{step}", participant_id, body):
                        return

    def __enter__(self) -> Self:
        self.threads = [threading.Thread(target=self.client, args=(n + 1,), daemon=True)
                        for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def wait_for(self, count: int, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acknowledged) >= count, (len(self.acknowledged), self.refusals)


def signed_in(ledger: TrialLedger, base: str) -> str:
    add_user(ledger, username="coord", role="site_coordinator", sites=["S01"],
             full_name="Coordinator", password=PASSWORD, by=Actor("setup", "system"))
    response = httpx.post(f"{base}/api/v1/auth/token",
                          data={"username": "coord", "password": PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def participant_events(engine: sa.Engine) -> dict[str, list[tuple[int, str]]]:
    """Per participant stream: (version, event_id) in version order, from the stored bytes."""
    streams: dict[str, list[tuple[int, str]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT originator_id, originator_version, state FROM stored_events "
            "WHERE originator_id LIKE 'HCC-%' ORDER BY originator_id, originator_version"))
        for stream, version, state in rows:
            streams.setdefault(stream, []).append(
                (int(version), json.loads(bytes(state))["event_id"]))
    return streams


def projected_position(engine: sa.Engine) -> int:
    """How far the slowest live read model has applied the log."""
    with engine.connect() as conn:
        position = conn.execute(sa.text(
            "SELECT coalesce(min(p.position), 0) FROM projection_positions p "
            "JOIN projection_active a ON a.name = p.name AND a.generation = p.generation"
        )).scalar()
    assert position is not None
    return int(position)


def last_position(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        position = conn.execute(sa.text("SELECT max(position) FROM ledger_chain")).scalar()
    assert position is not None
    return int(position)


def assert_read_models_equal_a_rebuild(ledger: TrialLedger, engine: sa.Engine) -> None:
    live = state_hashes(engine)
    assert {row["position"] for row in live.values()} == {last_position(engine)}
    rebuild(ledger, ledger.store.engine)
    assert {n: (r["rows"], r["state_hash"]) for n, r in state_hashes(engine).items()} == {
        n: (r["rows"], r["state_hash"]) for n, r in live.items()}


def test_a_server_killed_mid_load_loses_and_duplicates_no_acknowledged_event(
        processes: Processes, ledger: TrialLedger, owner_engine: sa.Engine) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = processes.serve(port)  # with its background projection worker, killed too
    token = signed_in(ledger, base)
    with Load(base, token) as load:
        load.wait_for(30)
        time.sleep(1.0)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        before_restart = len(load.acknowledged)
        server = processes.serve(port)
        load.wait_for(before_restart + 30)
    assert not load.refusals, load.refusals
    assert load.retries > 0  # the kill did land while clients were posting
    server.terminate()
    server.wait(timeout=30)

    streams = participant_events(owner_engine)
    stored = Counter(event_id for events in streams.values() for _, event_id in events)
    acknowledged = list(load.acknowledged.values())
    assert len(set(acknowledged)) == len(acknowledged)  # one event per Idempotency-Key
    assert all(stored[event_id] == 1 for event_id in acknowledged)
    assert sum(stored.values()) == len(acknowledged)  # and nothing unacknowledged behind them
    for stream, events in streams.items():
        assert [version for version, _ in events] == list(range(1, len(events) + 1)), stream

    verified = processes.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    projected = processes.run("project", "--once")
    assert projected.returncode == 0, projected.stderr
    assert_read_models_equal_a_rebuild(ledger, owner_engine)


def test_a_worker_killed_mid_run_applies_every_event_once(
        processes: Processes, ledger: TrialLedger, owner_engine: sa.Engine) -> None:
    for n in range(40):  # enough batches that a kill lands mid-run even on a loaded machine
        participant_id = f"HCC-01-{n:03d}"
        post(ledger, participant_id, story.enrollment())
        for day in range(1, 10):
            post(ledger, participant_id, story.follow_up(f"2026-02-{day:02d}"))
    total = last_position(owner_engine)

    killed_mid_run = 0
    for _ in range(2):
        worker = processes.start("project", "--batch", "5", "--interval", "0.05",
                                 "--checkpoint-every", "0.5")
        start = projected_position(owner_engine)
        deadline = time.monotonic() + 30
        while projected_position(owner_engine) == start and time.monotonic() < deadline:
            if worker.poll() is not None:
                pytest.fail("the worker stopped: " + processes.output(worker))
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed_mid_run += start < projected_position(owner_engine) < total
    assert killed_mid_run >= 1
    finished = processes.run("project", "--once")
    assert finished.returncode == 0, finished.stderr

    with owner_engine.connect() as conn:
        applied = conn.execute(sa.text(
            "SELECT f.position FROM audit_feed f JOIN projection_active a "
            "ON a.name = 'audit_feed' AND a.generation = f.generation")).scalars().all()
        events = conn.execute(sa.text("SELECT count(*) FROM ledger_chain")).scalar()
    assert len(applied) == len(set(applied)) == events
    assert verify_ledger(ledger.store).ok
    assert_read_models_equal_a_rebuild(ledger, owner_engine)
