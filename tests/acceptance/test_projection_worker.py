"""The projection worker, killed with SIGKILL mid-batch, resumes and applies every event once;
`trial-ledger serve` runs it in the background unless told not to."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from infra.db import create_engine
from infra.settings import Settings
from projections.state import rebuild, state_hashes
from projections.tables import PROJECTION_TABLES, audit_feed
from services.application import TrialLedger
from tests import story
from tests.acceptance.servers import serving
from tests.integration.conftest import post


def test_sigkill_mid_batch_then_resume_applies_each_event_once(settings, tmp_path: Path  # type: ignore[no-untyped-def]
                                                               ) -> None:
    engine = create_engine(settings.database)
    ledger = TrialLedger(settings, engine)
    for n in range(30):
        pid = f"HCC-01-{n:03d}"
        post(ledger, pid, story.enrollment())
        for day in range(1, 20):
            post(ledger, pid, story.follow_up(f"2026-02-{day:02d}"))
    total = ledger.store.count()
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(tmp_path / "secrets")}
    command = [sys.executable, "-m", "services.cli", "project", "--batch", "150",
               "--interval", "0.05"]
    rng = random.Random(7)
    for _ in range(3):
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.5, 3.0))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finished = subprocess.run([*command[:4], "--once"], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr

    with engine.connect() as conn:
        positions = conn.execute(sa.select(audit_feed.c.position).order_by(
            audit_feed.c.position)).scalars().all()
    assert len(positions) == total == len(set(positions))
    live = state_hashes(engine)
    rebuild(ledger, engine)
    rebuilt = state_hashes(engine)
    assert {n: (r["rows"], r["state_hash"]) for n, r in live.items()} == {
        n: (r["rows"], r["state_hash"]) for n, r in rebuilt.items()}
    ledger.close()
    engine.dispose()


def test_rebuild_cli_prints_identical_state_hashes(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(settings.database)
    ledger = TrialLedger(settings, engine)
    post(ledger, "HCC-01-001", story.enrollment())
    post(ledger, "HCC-01-001", story.tace("2026-01-14"))
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(tmp_path / "secrets")}
    runs = [subprocess.run([sys.executable, "-m", "services.cli", "rebuild"], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    first = [line.split(", state ")[1] for line in runs[0].stdout.splitlines()]
    second = [line.split(", state ")[1] for line in runs[1].stdout.splitlines()]
    assert len(first) == len(PROJECTION_TABLES) and first == second
    assert "generation 2" in runs[0].stdout and "generation 3" in runs[1].stdout
    ledger.close()
    engine.dispose()


def _serve(env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--port",
                                str(port), *extra], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    if serving(base, process):
        return process, base
    process.kill()
    raise AssertionError("the server did not start")


def _until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_serve_runs_the_worker_so_read_models_and_checkpoints_keep_up_without_gets_writing(
        store_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": store_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(tmp_path / "secrets"),
           "TRIAL_LEDGER_JWT_SECRET": "x" * 48}
    password = "correct horse battery staple"
    added = subprocess.run([sys.executable, "-m", "services.cli", "users", "add", "inspector",
                            "--role", "auditor", "--password-stdin"], input=password + "\n",
                           env=env, capture_output=True, text=True, timeout=120, check=False)
    assert added.returncode == 0, added.stderr
    settings = Settings(database_url=store_url, secrets_dir=tmp_path / "secrets",
                        jwt_secret="x" * 48)
    engine = create_engine(settings.database)
    ledger = TrialLedger(settings, engine)
    post(ledger, "HCC-01-001", story.enrollment())
    post(ledger, "HCC-01-001", story.tace("2026-01-14"))

    def read(base: str, path: str) -> httpx.Response:
        token = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": "inspector", "password": password}).json()
        return httpx.get(f"{base}{path}",
                         headers={"Authorization": f"Bearer {token['access_token']}"})

    idle, base = _serve(env, "--no-worker")
    try:
        assert read(base, "/api/v1/ledger/checkpoints/latest").status_code == 404
        assert all(r["behind"] > 0 for r in read(base, "/api/v1/projections").json())
    finally:
        idle.terminate()
        idle.wait(timeout=30)
    server, base = _serve(env, "--checkpoint-every", "0.2")
    try:
        assert _until(lambda: all(r["behind"] == 0 for r in
                                  read(base, "/api/v1/projections").json()))
        assert _until(lambda: read(base, "/api/v1/ledger/checkpoints/latest").status_code
                      == 200)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ledger.close()
    engine.dispose()
