"""As an auditor would: against a running server, save the public key, a checkpoint and proof
answers to files exactly as returned, then check them offline with
`python -m infra.ledger.proofs ... --public-key KEYFILE`; tampered answers, tampered signed
bodies and another key each fail with their own exit status and message."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.ledger import checkpoint_format
from tests import story
from tests.acceptance.servers import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "services.cli"]
VERIFIER = [sys.executable, "-m", "infra.ledger.proofs"]
PASSWORD = "correct horse battery staple"
LEDGER = "/api/v1/ledger"


def add_user(env: dict[str, str], name: str, *role: str) -> None:
    done = subprocess.run([*CLI, "users", "add", name, *role, "--password-stdin"],
                          input=PASSWORD + "\n", capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


class Server:
    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens: dict[str, str] = {}

    def sign_in(self, name: str) -> None:
        response = httpx.post(f"{self.base}/api/v1/auth/token", timeout=30,
                              data={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.tokens[name] = response.json()["access_token"]

    def request(self, method: str, path: str, user: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kw)

    def post_event(self, participant: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", f"/api/v1/participants/{participant}/events", "coord",
                                json=body, headers={"Idempotency-Key": secrets.token_hex(8)})
        assert response.status_code == 201, response.text
        event: dict[str, Any] = response.json()
        return event

    def checkpoint(self) -> dict[str, Any]:
        response = self.request("POST", f"{LEDGER}/checkpoints", "auditor")
        assert response.status_code == 201, response.text
        checkpoint: dict[str, Any] = response.json()
        return checkpoint

    def save(self, path: str, target: Path, **params: Any) -> dict[str, Any]:
        """The answer's bytes, exactly as returned, into `target`."""
        response = self.request("GET", path, "auditor", params=params)
        assert response.status_code == 200, response.text
        target.write_bytes(response.content)
        document: dict[str, Any] = json.loads(response.content)
        return document


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": store_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(tmp_path / "secrets"),
           "TRIAL_LEDGER_JWT_SECRET": secrets.token_urlsafe(40)}
    add_user(env, "coord", "--role", "site_coordinator", "--site", "S01")
    add_user(env, "auditor", "--role", "auditor")
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port), "--no-worker"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        if not serving(base, process):
            pytest.fail("the server did not start")
        running = Server(base)
        running.sign_in("coord")
        running.sign_in("auditor")
        yield running
    finally:
        process.terminate()
        process.wait(timeout=20)


def check(kind: str, answer: Path, key: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VERIFIER, kind, str(answer), "--public-key", str(key), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def flip(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return base64.b64encode(raw).decode()


def expect(run: subprocess.CompletedProcess[str], status: int, prefix: str) -> None:
    assert run.returncode == status, run.stdout + run.stderr
    output = run.stdout if status == 0 else run.stderr
    assert output.startswith(prefix), output
    assert output.count("\n") == 1 and "Traceback" not in run.stderr


def test_a_saved_inclusion_answer_is_checked_offline_with_the_pinned_key(
        server: Server, tmp_path: Path) -> None:
    enrolled = server.post_event("HCC-01-001", story.enrollment())
    dose = server.post_event("HCC-01-001", story.camrelizumab("2026-01-12"))
    server.post_event("HCC-01-001", story.adverse_event("AE1", "2026-01-20"))
    issued = server.checkpoint()
    assert issued["body"].endswith(f"\ntimestamp: {issued['timestamp']}\n")
    key = tmp_path / "key.json"
    server.save(f"{LEDGER}/public-key", key)
    answer = tmp_path / "inclusion.json"
    proof = server.save(f"{LEDGER}/proofs/inclusion", answer, event_id=dose["event_id"])
    assert proof["checkpoint"] == issued and proof["root_hash"] == issued["root_hash"]

    passed = check("inclusion", answer, key)
    expect(passed, 0, f"ok: event {dose['event_id']} (leaf {proof['leaf_index']}")
    assert f"signed at {issued['timestamp']}" in passed.stdout
    expect(check("inclusion", answer, key, "--event-hash", dose["hash"]), 0, "ok: ")
    expect(check("inclusion", answer, key, "--event-hash", enrolled["hash"]), 1, "bad proof: ")

    path = list(proof["audit_path"])
    path[0] = flip(path[0])
    expect(check("inclusion", write(tmp_path / "t1.json", {**proof, "audit_path": path}), key),
           1, "bad proof: the audit path does not lead")
    expect(check("inclusion", write(tmp_path / "t2.json", {
        **proof, "leaf_index": proof["leaf_index"] - 1}), key), 1, "bad proof: ")
    signed = proof["checkpoint"]
    later = signed["body"].replace(signed["timestamp"], "2099-01-01T00:00:00.000000Z")
    expect(check("inclusion", write(tmp_path / "t3.json", {
        **proof, "checkpoint": {**signed, "body": later}}), key),
        3, "bad signature: the checkpoint's signature does not verify")
    size = signed["tree_size"]
    grown = signed["body"].replace(f"\n{size}\n", f"\n{size + 1}\n")
    expect(check("inclusion", write(tmp_path / "t4.json", {
        **proof, "tree_size": size + 1, "checkpoint": {**signed, "body": grown}}), key),
        3, "bad signature: ")
    expect(check("inclusion", write(tmp_path / "t5.json", {
        **proof, "checkpoint": {**signed, "timestamp": "2099-01-01T00:00:00.000000Z"}}), key),
        3, "bad signature: the checkpoint's timestamp field")

    other = checkpoint_format.public_key_raw(checkpoint_format.generate_private_key())
    other_key = write(tmp_path / "other-key.json", {
        "key_id": checkpoint_format.key_id(other), "algorithm": "Ed25519",
        "public_key": base64.b64encode(other).decode()})
    wrong = check("inclusion", answer, other_key)
    expect(wrong, 4, f"wrong key: the checkpoint says it was signed by key {signed['key_id']}")
    assert checkpoint_format.key_id(other) in wrong.stderr

    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(answer.read_bytes()[:-20])
    expect(check("inclusion", truncated, key), 2, "malformed: ")


def test_a_saved_consistency_answer_is_checked_offline_with_the_pinned_key(
        server: Server, tmp_path: Path) -> None:
    server.post_event("HCC-01-001", story.enrollment())
    older = server.checkpoint()
    kept = write(tmp_path / "older-checkpoint.json", older)
    server.post_event("HCC-01-001", story.camrelizumab("2026-01-12"))
    server.post_event("HCC-01-002", story.enrollment(on="2026-01-11"))
    newer = server.checkpoint()
    key = tmp_path / "key.json"
    server.save(f"{LEDGER}/public-key", key)
    answer = tmp_path / "consistency.json"
    proof = server.save(f"{LEDGER}/proofs/consistency", answer, first=older["tree_size"],
                        second=newer["tree_size"])
    assert proof["first_checkpoint"] == older and proof["second_checkpoint"] == newer

    passed = check("consistency", answer, key)
    expect(passed, 0, f"ok: log 'trial-ledger' of {newer['tree_size']} events")
    assert f"extends the tree of {older['tree_size']} events" in passed.stdout
    expect(check("consistency", answer, key, "--first-checkpoint", str(kept)), 0, "ok: ")
    expect(check("consistency", answer, key, "--first-root", older["root_hash"]), 0, "ok: ")
    expect(check("checkpoint", kept, key), 0, "ok: checkpoint of log 'trial-ledger'")

    expect(check("consistency", answer, key, "--first-root", flip(older["root_hash"])),
           1, "bad proof: ")
    tampered = [flip(proof["proof"][0]), *proof["proof"][1:]]
    expect(check("consistency", write(tmp_path / "t1.json", {**proof, "proof": tampered}), key),
           1, "bad proof: the proof does not show")
    first = proof["first_checkpoint"]
    earlier = first["body"].replace(first["timestamp"], "2020-01-01T00:00:00.000000Z")
    expect(check("consistency", write(tmp_path / "t2.json", {
        **proof, "first_checkpoint": {**first, "body": earlier}}), key),
        3, "bad signature: the older checkpoint's signature does not verify")
    second = proof["second_checkpoint"]
    shrunk = second["body"].replace(f"\n{newer['tree_size']}\n", f"\n{older['tree_size']}\n")
    expect(check("consistency", write(tmp_path / "t3.json", {
        **proof, "second_checkpoint": {**second, "body": shrunk}}), key),
        3, "bad signature: the newer checkpoint's signature does not verify")

    other = checkpoint_format.public_key_raw(checkpoint_format.generate_private_key())
    other_key = tmp_path / "other-key.txt"
    other_key.write_text(base64.b64encode(other).decode())
    expect(check("consistency", answer, other_key), 4, "wrong key: the newer checkpoint")
    expect(check("consistency", write(tmp_path / "t4.json", {
        **proof, "first_checkpoint": None}), key), 2, "malformed: nothing vouches")
