"""The web stack's own floor, measured beside ours: a bare FastAPI app under the same uvicorn.

`app` below takes the same JSON body as `POST /api/v1/participants/{id}/events`, validates
it with pydantic (an envelope and a nested data model) and answers 201 with a small JSON
document, without storage, authentication, logging or middleware. `bare_floor` starts it as
its own process, exactly as `trial-ledger serve` starts uvicorn (httptools, uvloop, no access
log), and drives it from the same number of clients as the timed phase: its server CPU per
request is what any single-event POST costs on this machine before the ledger does anything.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from bench.server import tree_cpu_seconds

FLOOR_REQUESTS = 2000

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64)
    occurred_on: date
    data: _Data
    reason: str | None = None
    expected_version: int | None = None


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/participants/{participant_id}/events", status_code=201)
async def post_event(participant_id: str, event: _Event) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "participant_id": participant_id,
            "type": event.type, "occurred_on": event.occurred_on.isoformat(), "version": 1}


def drive(base_url: str, pid: int, clients: int, requests: int,
           send: Any) -> dict[str, Any]:
    """`requests` calls of `send(client, n)` from `clients` threads (each opens its connection
    first); the rate, failures, and server and client CPU per request."""
    left = [requests]
    guard = threading.Lock()
    failures: list[int] = []

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            http.get("/health")
            while True:
                with guard:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                    n = left[0]
                status = send(http, n)
                if status >= 300:
                    failures.append(status)

    before, _ = tree_cpu_seconds(pid)
    client_before = time.process_time()
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    after, _ = tree_cpu_seconds(pid)
    client_cpu = (time.process_time() - client_before) * 1000 / requests
    cpu = None if before is None or after is None else (after - before) * 1000 / requests
    return {"requests": requests, "per_second": round(requests / wall, 1),
            "failures": len(failures),
            "server_cpu_ms_per_request": None if cpu is None else round(cpu, 3),
            "client_cpu_ms_per_request": round(client_cpu, 3)}


def bare_floor(clients: int, bodies: Sequence[tuple[str, dict[str, Any]]],
               logdir: Path, port: int) -> dict[str, Any]:
    """GET /health and POST of the bench's own bodies against the bare app, one process."""
    log = (logdir / "bare-http.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_http:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--no-server-header"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("the bare FastAPI app did not answer GET /health")

        def get(http: httpx.Client, _: int) -> int:
            return http.get("/health").status_code

        def post(http: httpx.Client, n: int) -> int:
            participant_id, body = bodies[n % len(bodies)]
            return http.post(f"/api/v1/participants/{participant_id}/events", json=body,
                             headers={"Idempotency-Key": uuid.uuid4().hex}).status_code

        return {"get": drive(base_url, proc.pid, clients, FLOOR_REQUESTS, get),
                "post": drive(base_url, proc.pid, clients, FLOOR_REQUESTS, post)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
