"""Many processes, one ledger: two API processes and a projection worker on one PostgreSQL
store, clients posting to both, one API process killed with SIGKILL mid-load. Clients retry
what the dead process never answered on the survivor under the same Idempotency-Key; in the
end every acknowledged event is stored once and nothing else is, each participant's versions
run without gaps, the chain and the signed checkpoints verify, Merkle proofs check offline
and the read models equal a rebuild. Correctness across processes rests on the version checks
under the store's write lock (ADR 0011), never on an in-process lock."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from infra.ledger.proofs import check_consistency, check_inclusion, load_public_key
from infra.settings import Settings
from services.accounts import add_user
from services.application import Actor, TrialLedger
from tests.acceptance.servers import free_port, serving
from tests.acceptance.test_crash_recovery import (
    assert_read_models_equal_a_rebuild,
    last_position,
    projected_position,
)

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "services.cli"]
PASSWORD = "correct horse battery staple"
PREFIX = "HCC-01-"
REQUEST_TIMEOUT = 45.0
"""Longer than the server's own waits (a pool checkout gives up after 30 s), so a stalled
server answers its 5xx before the client gives up on it."""
DATE_SPAN = 390
"""Days of clinical dates a participant's entries cycle through, all after enrolment and
before today (no rule orders contacts or doses, so a cycle is valid)."""


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """What every process of the deployment shares: the store as the runtime role, the
    owner's URL for migrations, one secrets directory and one token secret."""
    assert settings.jwt_secret is not None
    return {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
            "TRIAL_LEDGER_MIGRATION_DATABASE_URL": settings.migration_url(),
            "TRIAL_LEDGER_RUNTIME_ROLE": settings.runtime_role,
            "TRIAL_LEDGER_SECRETS_DIR": str(settings.secrets_dir),
            "TRIAL_LEDGER_JWT_SECRET": settings.jwt_secret,
            "TRIAL_LEDGER_LOG_LEVEL": "WARNING", **extra}


class Fleet:
    """Every process a test starts, logged to files, killed at the end whatever happens."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen([*CLI, *args], env=self.env, stdout=log, stderr=log)
        self.started[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def serving(self, name: str, base: str) -> None:
        if not serving(base, self.started[name], seconds=60):
            pytest.fail(f"{name} did not start: {self.log(name)}")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True,
                              timeout=180, check=False)

    def stop(self, name: str) -> None:
        process = self.started[name]
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)

    def kill_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@dataclass
class Traffic:
    """Client threads posting contacts and doses to random participants, each request under
    its own Idempotency-Key and retried with that key and body until acknowledged: on the
    other server after a connection error, on the same one after a 5xx or a contention 409."""

    bases: list[str]
    token: str
    participants: list[str] = field(default_factory=list)
    enrolled_on: date = field(
        default_factory=lambda: datetime.now(UTC).date() - timedelta(days=DATE_SPAN + 10))
    down: set[str] = field(default_factory=set)  # servers no new request goes to
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> 201 body
    replays: int = 0
    contention: int = 0
    connection_errors: Counter[str] = field(default_factory=Counter)  # per base
    server_errors: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    guard: threading.Lock = field(default_factory=threading.Lock)
    _next: Counter[str] = field(default_factory=Counter)

    def send(self, client: httpx.Client, key: str, participant_id: str, body: dict[str, Any],
             turn: int, seconds: float = 100) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            live = [b for b in self.bases if b not in self.down] or self.bases
            base = live[turn % len(live)]
            try:
                response = client.post(f"{base}/api/v1/participants/{participant_id}/events",
                                       json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                with self.guard:
                    self.connection_errors[base] += 1
                turn += 1  # no answer: the same key and body, on the other server
                time.sleep(0.05)
                continue
            if response.status_code == 201:
                with self.guard:
                    self.acknowledged[key] = response.json()
                    self.replays += response.headers.get("Idempotent-Replayed") == "true"
                return True
            if response.status_code >= 500:
                with self.guard:
                    self.server_errors.append(f"{base} {key}: {response.status_code} "
                                              f"{response.text[:300]}")
            elif response.status_code == 409 and "write_contention" in response.text:
                with self.guard:
                    self.contention += 1
            else:
                with self.guard:
                    self.refusals.append(f"{key}: {response.status_code} {response.text[:300]}")
                return False
            time.sleep(0.05)
        with self.guard:
            self.refusals.append(f"{key}: never acknowledged in {seconds:g} s")
        return False

    def enroll(self, count: int) -> None:
        """Enroll `count` participants at S01, alternating servers."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=REQUEST_TIMEOUT) as client:
            for n in range(count):
                participant_id = f"{PREFIX}{n + 100:03d}"
                consented_on = self.enrolled_on - timedelta(days=5)
                body = {"type": "ParticipantEnrolled", "occurred_on": self.enrolled_on.isoformat(),
                        "data": {"site_id": "S01", "consented_on": consented_on.isoformat(),
                                 "sex": "MF"[n % 2], "birth_year": 1950 + n % 20, "ecog": n % 2,
                                 "child_pugh": "A5", "bclc": "C", "pvtt": False,
                                 "extrahepatic_spread": False, "etiology": "HBV",
                                 "afp_ng_ml": 100.0 + n}}
                assert self.send(client, f"enroll-{n}", participant_id, body, n), self.refusals
                self.participants.append(participant_id)

    def body(self, participant_id: str) -> dict[str, Any]:
        """The participant's next entry: a contact or a dose on its next clinical date."""
        with self.guard:
            k = self._next[participant_id]
            self._next[participant_id] += 1
        on = (self.enrolled_on + timedelta(days=1 + k % DATE_SPAN)).isoformat()
        if k % 2 == 0:
            return {"type": "FollowUpContact", "occurred_on": on, "data": {"alive": True}}
        return {"type": "DoseAdministered", "occurred_on": on,
                "data": {"drug": "camrelizumab", "dose_mg": 200, "route": "IV",
                         "cycle": k // 2 + 1}}

    def client(self, number: int) -> None:
        rng = random.Random(number)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=REQUEST_TIMEOUT) as client:
            for request in range(10**9):
                if self.stop.is_set():
                    return
                participant_id = rng.choice(self.participants)
                if not self.send(client, f"c{number}-{request}", participant_id,
                                 self.body(participant_id), number + request):
                    return

    def start(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True)
                   for n in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def finish(self, threads: list[threading.Thread], seconds: float = 150) -> None:
        self.stop.set()
        deadline = time.monotonic() + seconds
        for thread in threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "a client never finished its request"

    def summary(self) -> str:
        return (f"{len(self.acknowledged)} acknowledged, {self.replays} replays, "
                f"{self.contention} contention retries, {len(self.server_errors)} 5xx, "
                f"connection errors {dict(self.connection_errors)}")

    def failed(self) -> bool:
        return bool(self.refusals or self.server_errors)

    def wait_for(self, count: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while (len(self.acknowledged) < count and time.monotonic() < deadline
               and not self.failed()):
            time.sleep(0.05)
        assert len(self.acknowledged) >= count, (self.summary(), self.refusals[:3],
                                                 self.server_errors[:3])


def sign_in(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/token", timeout=30,
                          data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def make_accounts(ledger: TrialLedger, *names: tuple[str, str, list[str]]) -> None:
    for username, role, sites in names:
        add_user(ledger, username=username, role=role, sites=sites, full_name=username,
                 password=PASSWORD, by=Actor("setup", "system"))


def assert_acknowledged_events_stored_once(engine: sa.Engine, traffic: Traffic) -> None:
    """Every acknowledged event is stored once, at the version, position and hash its answer
    reported; nothing else is stored in a participant stream; versions run 1..n."""
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT originator_id, originator_version, state FROM stored_events "
            "WHERE originator_id LIKE :p ORDER BY originator_id, originator_version"),
            {"p": PREFIX + "%"}).all()
        chain = {(r[0], int(r[1])): (int(r[2]), bytes(r[3]).hex()) for r in conn.execute(
            sa.text("SELECT stream_id, version, position, event_hash FROM ledger_chain "
                    "WHERE stream_id LIKE :p"), {"p": PREFIX + "%"})}
    streams: dict[str, list[int]] = {}
    where: dict[str, tuple[str, int]] = {}
    counts: Counter[str] = Counter()
    for stream, version, state in stored:
        streams.setdefault(stream, []).append(int(version))
        event_id = json.loads(bytes(state))["event_id"]
        counts[event_id] += 1
        where[event_id] = (stream, int(version))
    answers = list(traffic.acknowledged.values())
    ids = [a["event_id"] for a in answers]
    assert len(set(ids)) == len(ids), "two keys were answered with one event"
    wrong = [(i, counts[i]) for i in ids if counts[i] != 1]
    assert wrong == [], f"{len(wrong)} acknowledged events not stored exactly once: {wrong[:3]}"
    unacknowledged = sum(counts.values()) - len(ids)
    assert unacknowledged == 0, f"{unacknowledged} stored participant events no client was told of"
    for stream, versions in streams.items():
        assert versions == list(range(1, len(versions) + 1)), f"{stream} has version gaps"
    for answer in answers:
        stream, version = where[answer["event_id"]]
        assert (answer["participant_id"], answer["version"]) == (stream, version), answer
        assert chain[stream, version] == (answer["position"], answer["hash"]), answer


def wait_for_projections(engine: sa.Engine, seconds: float = 60) -> None:
    target = last_position(engine)
    deadline = time.monotonic() + seconds
    while projected_position(engine) < target and time.monotonic() < deadline:
        time.sleep(0.1)
    assert projected_position(engine) >= target, (projected_position(engine), target)


def test_two_api_processes_and_a_worker_one_killed_mid_load_keep_one_exact_ledger(
        settings: Settings, store_kind: str, ledger: TrialLedger, tmp_path: Path) -> None:
    if store_kind != "postgresql":
        pytest.skip("one ledger behind many processes is the PostgreSQL deployment")
    fleet = Fleet(service_env(settings), tmp_path)
    ports = {"api-a": free_port(), "api-b": free_port()}
    bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    auditor_headers: dict[str, str] = {}
    try:
        for name, port in ports.items():
            fleet.start(name, "serve", "--no-worker", "--port", str(port))
        fleet.start("worker", "project", "--interval", "0.05", "--checkpoint-every", "0.5")
        for name, base in bases.items():
            fleet.serving(name, base)
        make_accounts(ledger, ("coord", "site_coordinator", ["S01"]), ("audit", "auditor", []))
        traffic = Traffic([bases["api-a"], bases["api-b"]], sign_in(bases["api-a"], "coord"))
        auditor_headers["Authorization"] = f"Bearer {sign_in(bases['api-b'], 'audit')}"
        traffic.enroll(20)

        threads = traffic.start(12)
        traffic.wait_for(150)
        early = httpx.post(f"{bases['api-a']}/api/v1/ledger/checkpoints",
                           headers=auditor_headers, timeout=30)
        assert early.status_code == 201, early.text
        time.sleep(0.5)
        fleet.started["api-a"].send_signal(signal.SIGKILL)
        traffic.down.add(bases["api-a"])
        before = len(traffic.acknowledged)
        fleet.started["api-a"].wait(timeout=30)
        traffic.wait_for(before + 150)
        time.sleep(1.0)
        traffic.finish(threads)

        assert traffic.refusals == [], (traffic.refusals[:5], traffic.summary())
        assert traffic.server_errors == [], (traffic.server_errors[:3], fleet.log("api-a"),
                                             fleet.log("api-b"))
        assert traffic.connection_errors[bases["api-a"]] > 0, "the kill landed on no request"
        assert traffic.connection_errors[bases["api-b"]] == 0, traffic.connection_errors
        assert_acknowledged_events_stored_once(ledger.store.engine, traffic)

        survivor = bases["api-b"]
        final = httpx.post(f"{survivor}/api/v1/ledger/checkpoints", headers=auditor_headers,
                           timeout=30)
        assert final.status_code == 201, final.text
        kept = tmp_path / "checkpoint.json"
        kept.write_text(final.text)
        key = load_public_key(httpx.get(f"{survivor}/api/v1/ledger/public-key",
                                        headers=auditor_headers, timeout=30).text)
        first, second = early.json()["tree_size"], final.json()["tree_size"]
        consistency = httpx.get(f"{survivor}/api/v1/ledger/proofs/consistency", timeout=30,
                                headers=auditor_headers, params={"first": first,
                                                                 "second": second})
        assert consistency.status_code == 200, consistency.text
        assert check_consistency(consistency.json(), key).startswith("ok: ")
        for answer in random.Random(3).sample(list(traffic.acknowledged.values()), 5):
            inclusion = httpx.get(f"{survivor}/api/v1/ledger/proofs/inclusion", timeout=30,
                                  headers=auditor_headers,
                                  params={"event_id": answer["event_id"]})
            assert inclusion.status_code == 200, inclusion.text
            assert check_inclusion(inclusion.json(), key,
                                   event_hash=bytes.fromhex(answer["hash"])).startswith("ok: ")

        wait_for_projections(ledger.store.engine)
        assert fleet.started["worker"].poll() is None, fleet.log("worker")
        fleet.stop("worker")
        fleet.stop("api-b")
        verified = fleet.run("verify", "--checkpoint", str(kept))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report = json.loads(verified.stdout)
        assert report["ok"] and report["checkpoint"]["ok"], report
        assert report["stored_checkpoints"]["checked"] >= 2, report
        assert_read_models_equal_a_rebuild(ledger, ledger.store.engine)
    finally:
        fleet.kill_all()
    print(f"\n{traffic.summary()}")
