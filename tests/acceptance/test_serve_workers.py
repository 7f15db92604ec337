"""`trial-ledger serve --workers 2`: two API processes behind one port, one projection worker
beside them; coordinators posting at once through both get one gap-free ledger."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import story
from tests.acceptance.servers import free_port, serving
from tests.acceptance.test_cli_and_server import CLI, PASSWORD, env, run

__all__ = ["env"]  # the fixture, shared with the single-process story


@pytest.fixture
def two_workers(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", "2"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        if not serving(base, process, seconds=90):
            process.kill()
            pytest.fail("the server did not start: " + (process.stderr.read() if
                                                        process.stderr else ""))
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def test_two_api_processes_share_one_gap_free_ledger(
        env: dict[str, str], two_workers: tuple[str, subprocess.Popen[str]]) -> None:
    base, process = two_workers
    assert len(_children(process.pid)) >= 2
    assert run(env, "users", "add", "jdoe", "--role", "site_coordinator", "--site", "S01",
               "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    token = httpx.post(f"{base}/api/v1/auth/token",
                       data={"username": "jdoe", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    pids = [f"HCC-01-{n:03d}" for n in range(1, 7)]
    statuses: list[int] = []

    def coordinator(pid: str) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            url = f"/api/v1/participants/{pid}/events"
            statuses.append(client.post(url, json=story.enrollment()).status_code)
            for day in range(1, 6):  # a new connection each time: either process may answer
                with httpx.Client(base_url=base, headers=headers, timeout=60) as fresh:
                    statuses.append(fresh.post(url, json=story.follow_up(
                        f"2026-02-{day:02d}")).status_code)
            batch = client.post("/api/v1/events/batch", json={"events": [
                {"participant_id": pid, "idempotency_key": f"{pid}-{day}",
                 **story.follow_up(f"2026-03-{day:02d}")} for day in range(1, 4)]})
            statuses.extend(r["status"] for r in batch.json()["results"])

    threads = [threading.Thread(target=coordinator, args=(pid,)) for pid in pids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert statuses == [201] * len(pids) * 9
    for pid in pids:
        events = httpx.get(f"{base}/api/v1/participants/{pid}/events", headers=headers).json()
        assert [e["version"] for e in events] == list(range(1, 10))
    assert run(env, "verify").returncode == 0
