"""The parts of bench.ingest for `--batch`: the batch route's timed phase, and the HTTP floor
measured on the same server after each timed phase.

Kept apart so bench/ingest.py stays readable; `python -m bench.ingest` runs it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.harness import Deadline
from bench.workers import MAX_ERROR_SAMPLES, REQUEST_TIMEOUT_S, PhaseResult, Sample, run_workers

# -- the batch route ----------------------------------------------------------------------


@dataclass
class BatchPhase(PhaseResult):
    """A timed phase of batch requests, counted by event: samples are requests."""

    events: int = 0
    batch_size: int = 0
    item_statuses: Counter[int] = field(default_factory=Counter)
    item_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.item_statuses.get(201, 0)

    @property
    def errors(self) -> int:
        return self.events - self.ok

    def as_dict(self) -> dict[str, Any]:
        found = super().as_dict()
        request_errors = [f"{s.status}: {s.detail}" for s in self.samples
                          if s.status not in (200, 201)]
        found |= {
            "attempted": self.events,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.item_statuses.items())},
            "error_samples": (request_errors + self.item_errors)[:MAX_ERROR_SAMPLES],
            "batch_size": self.batch_size,
            "requests": len(self.samples),
            "requests_attempted": self.attempted,
            "request_statuses": found["statuses"],
            "latency_is": "per request",
        }
        return found


def batch_order(events: Sequence[tuple[str, dict[str, Any]]], size: int
                ) -> tuple[list[range], list[set[int]]]:
    """Consecutive events in batches of `size`, and for each batch the earlier batches it
    must wait for: those holding an earlier event of one of its participants."""
    chunks = [range(i, min(i + size, len(events))) for i in range(0, len(events), size)]
    last_batch: dict[str, int] = {}
    waits: list[set[int]] = []
    for number, chunk in enumerate(chunks):
        pids = {events[i][0] for i in chunk}
        waits.append({last_batch[p] for p in pids if p in last_batch})
        last_batch.update(dict.fromkeys(pids, number))
    return chunks, waits


def max_in_flight(waits: Sequence[set[int]], clients: int) -> int:
    """How many batches can be in flight at once when each waits for its predecessors."""
    if not waits:
        return 0
    # Batch j waits for j - d where d is the smallest distance to a predecessor.
    gaps = [number - max(before) for number, before in enumerate(waits) if before]
    return min(clients, min(gaps) if gaps else len(waits))


def post_batches(base_url: str, token: str, events: Sequence[tuple[str, dict[str, Any]]],
                 size: int, clients: int, deadline: Deadline, key_prefix: str) -> BatchPhase:
    """POST the events in batches of `size` to /api/v1/events/batch from `clients` threads.

    Each event keeps its own idempotency_key (`key_prefix-<index in the workload>`, as the
    single route's header). A participant's events stay in posting order: a batch is sent
    only after every earlier batch holding one of its participants has been answered (that
    wait is in the wall time, not in the request latency).
    """
    chunks, waits = batch_order(events, size)
    payloads = [json.dumps({"events": [
        {"participant_id": events[i][0], "idempotency_key": f"{key_prefix}-{i}", **events[i][1]}
        for i in chunk]}, separators=(",", ":")).encode() for chunk in chunks]
    answered = [threading.Event() for _ in chunks]
    item_statuses: Counter[int] = Counter()
    item_errors: list[str] = []
    tally_lock = threading.Lock()
    opened: list[httpx.Client] = []

    def make_worker(_: int) -> Callable[[int], Sample]:
        client = httpx.Client(
            base_url=base_url, timeout=REQUEST_TIMEOUT_S,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        with tally_lock:
            opened.append(client)
        client.get("/health").raise_for_status()  # open the connection before the clock

        def post(job: int) -> Sample:
            try:
                for before in waits[job]:
                    answered[before].wait(timeout=deadline.remaining() + REQUEST_TIMEOUT_S)
                return _post_one(client, job)
            finally:
                answered[job].set()

        return post

    def _post_one(client: httpx.Client, job: int) -> Sample:
        started = time.perf_counter()
        try:
            reply = client.post("/api/v1/events/batch", content=payloads[job])
        except httpx.HTTPError as error:
            return Sample(0, time.perf_counter() - started, f"{type(error).__name__}: {error}")
        elapsed = time.perf_counter() - started
        if reply.status_code != 200:
            return Sample(reply.status_code, elapsed, reply.text[:300])
        try:
            results = reply.json()["results"]
            statuses = Counter(int(r["status"]) for r in results)
        except (ValueError, KeyError, TypeError) as error:
            return Sample(-1, elapsed, f"unreadable answer ({error!r}): {reply.text[:300]}")
        refused = [r for r in results if r["status"] != 201]
        with tally_lock:
            item_statuses.update(statuses)
            if len(results) != len(chunks[job]):
                item_errors.append(f"batch {job}: {len(results)} results for "
                                   f"{len(chunks[job])} events")
            for r in refused[:max(0, MAX_ERROR_SAMPLES - len(item_errors))]:
                problem = r.get("problem") or {}
                item_errors.append(f"{r['status']}: batch {job} events.{r['index']} "
                                   f"{r.get('participant_id')}: {problem.get('title')}: "
                                   f"{str(problem.get('detail'))[:240]}")
        if refused or len(results) != len(chunks[job]):
            return Sample(refused[0]["status"] if refused else -1, elapsed, "see item errors")
        return Sample(201, elapsed)

    def close_all() -> None:
        for client in opened:
            client.close()

    try:
        phase = run_workers(len(chunks), clients, deadline, make_worker, setup_done=close_all)
    finally:
        close_all()
    return BatchPhase(attempted=phase.attempted, wall_seconds=phase.wall_seconds,
                      samples=phase.samples, finished=phase.finished, extra=phase.extra,
                      events=len(events), batch_size=size, item_statuses=item_statuses,
                      item_errors=item_errors)


# -- the HTTP floor -------------------------------------------------------------------------


FLOOR_REQUESTS = 1000


def http_floor(base_url: str, server_pid: int, clients: int, deadline: Deadline,
               auditor_token: str) -> dict[str, Any]:
    """What a request that does almost nothing costs the same server: GET /health (no
    token, one `SELECT 1`) from the same number of clients, in server CPU ms per request,
    once the projection worker in the server has applied every event (its CPU would count
    otherwise). No single-event POST can cost less than this floor."""
    with httpx.Client(base_url=base_url, timeout=60,
                      headers={"Authorization": f"Bearer {auditor_token}"}) as http:
        while not deadline.expired():
            states = http.get("/api/v1/projections").json()
            if all(state.get("behind") == 0 for state in states):
                break
            time.sleep(0.5)
    from bench.bare_http import drive

    def get(http: httpx.Client, _: int) -> int:
        return http.get("/health").status_code

    return drive(base_url, server_pid, clients, FLOOR_REQUESTS, get)
