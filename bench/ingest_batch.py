"""The parts of bench.ingest for `--batch` and `--workers`: the batch route's timed phase,
the server's CPU over its whole process tree, and the targets line printed under each table.

Kept apart so bench/ingest.py stays readable; `python -m bench.ingest` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import (
    MAX_ERROR_SAMPLES,
    REQUEST_TIMEOUT_S,
    Deadline,
    PhaseResult,
    Sample,
    Workload,
    run_workers,
)

TARGET_PEER_RATIO = {"postgresql": 6.0, "sqlite": 1.5}
TARGET_CPU_MS = 1.0
TARGET_P99_MS = 50.0
TARGET_P99_CLIENTS = 16  # the p99 target is stated at 16 clients
TARGET_BATCH_RATIO = 10.0


# -- the server's process tree ------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid: uvicorn's API processes and multiprocessing's helpers.

    /proc/<pid>/task/*/children is not there on every kernel, so the parent links are read
    from /proc/*/stat instead.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _own_cpu_seconds(pid: int) -> float | None:
    """utime + stime + cutime + cstime: a child that exits and is reaped stays counted."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    try:
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError):
        return None


def tree_cpu_seconds(pid: int) -> tuple[float | None, int]:
    """CPU seconds of pid and all its descendants, and how many processes that was (Linux)."""
    root = _own_cpu_seconds(pid)
    if root is None:
        return None, 0
    total, count = root, 1
    for child in descendants(pid):
        seconds = _own_cpu_seconds(child)
        if seconds is not None:
            total, count = total + seconds, count + 1
    return total, count


def _is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker, which uvicorn's supervisor also starts."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def wait_processes_settled(pid: int, api_processes: int, deadline: Deadline,
                           limit_s: float = 90.0) -> float:
    """Wait until the API processes exist and each has stopped burning start-up CPU.

    /health answers as soon as one API process is up; the others may still be importing.
    Their start-up must not land in the timed phase. Returns the seconds waited.
    """
    started = time.monotonic()
    quiet_rounds = 0
    previous: dict[int, float] = {}
    while time.monotonic() - started < limit_s and not deadline.expired():
        now = {child: cpu for child in descendants(pid)
               if (cpu := _own_cpu_seconds(child)) is not None and not _is_helper(child)}
        busy = [c for c, cpu in now.items() if cpu - previous.get(c, -1.0) > 0.05]
        quiet_rounds = quiet_rounds + 1 if len(now) >= api_processes and not busy else 0
        if quiet_rounds >= 2:
            break
        previous = now
        time.sleep(0.5)
    return time.monotonic() - started


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


# -- the results and their tables ---------------------------------------------------------


def check_result(kind: str, result: dict[str, Any], args: argparse.Namespace,
                 workload: Workload) -> list[str]:
    """Add the ratios to `result`; return what went wrong (errors, verify, peer, timeout)."""
    ours, peer, batch = result["ours"], result["peer"], result.get("batch")
    result["ratio_ours_to_peer"] = ratio(ours, peer)
    if batch is not None:
        result["ratio_batch_to_peer"] = ratio(batch, peer)
        result["ratio_batch_to_single"] = ratio(batch, ours)
        result["batches_in_flight"] = max_in_flight(
            batch_order(workload.events, args.batch)[1], args.clients)
    failed = []
    for name, row in (("batch", batch), ("ours", ours)):
        if row is None:
            continue
        what = "batch items" if name == "batch" else "POSTs"
        if row["errors"]:
            failed.append(f"{kind} {name}: {row['errors']} of {row['attempted']} {what} did not "
                          f"answer 201 ({row['statuses']}); samples: {row['error_samples']}")
        if not row["finished"]:
            failed.append(f"{kind} {name}: the timed phase was cut short by --timeout")
        verify = row.get("verify", {})
        if not verify.get("ok") or verify.get("events") != verify.get("expected_events"):
            failed.append(f"{kind} {name}: ledger verify {verify}")
    if peer["errors"] or peer["stored_events"] != peer["expected_events"]:
        failed.append(f"{kind}: peer errors {peer['errors']}, stored "
                      f"{peer['stored_events']} of {peer['expected_events']}")
    return failed


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


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(kind: str, result: dict[str, Any], args: argparse.Namespace) -> None:
    ours, peer, batch = result["ours"], result["peer"], result.get("batch")
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    processes = ours.get("server_processes")
    print(f"\n{title}: {args.events} events over {args.participants} participants, "
          f"{args.clients} concurrent clients/threads; server --workers {args.workers} "
          + (f"(CPU summed over its {processes} processes)" if processes != 1
             else "(CPU of its one process)"))
    if batch is not None:
        print(f"batch route: {batch['requests']} requests of up to {args.batch} events, at most "
              f"{result.get('batches_in_flight')} in flight (a batch waits for the earlier "
              "batches of its participants); its latency is per request")
    header = (f"{'':40}{'events/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
              f"{'CPU ms/ev':>11}")
    print(header)
    print("-" * len(header))
    rows = [("ours (HTTP, chain, validation, auth)", ours), ("peer (library, in-process)", peer)]
    if batch is not None:
        rows.insert(0, (f"ours, batch route ({args.batch}/request)", batch))
    for label, row in rows:
        lat = row["latency_ms"]
        print(f"{label:40}{_fmt(row['events_per_second']):>10}{_fmt(lat['p50'], 2):>9}"
              f"{_fmt(lat['p95'], 2):>9}{_fmt(lat['p99'], 2):>9}{row['errors']:>8}"
              f"{_fmt(row.get('server_cpu_ms_per_event'), 2):>11}")
    print(f"{'ratio ours/peer':40}{_fmt(result['ratio_ours_to_peer'], 3):>10}")
    if batch is not None:
        print(f"{'ratio batch/peer':40}{_fmt(result['ratio_batch_to_peer'], 3):>10}")
        print(f"{'ratio batch/single-event':40}{_fmt(result['ratio_batch_to_single'], 3):>10}")
    for label, row in ([("batch", batch)] if batch is not None else []) + [("ours", ours)]:
        verify = row.get("verify", {})
        print(f"ledger verify ({label}): ok={verify.get('ok')} events={verify.get('events')} "
              f"(expected {verify.get('expected_events')})")
    floor = ours.get("http_floor")
    if floor:
        print(f"HTTP floor, same server and clients: GET /health {floor['per_second']:,} "
              f"requests/s, {_fmt(floor['server_cpu_ms_per_request'], 2)} ms of server CPU "
              f"per request ({floor['failures']} failures)")
    print(f"peer stored {peer.get('stored_events')} (expected {peer.get('expected_events')})")
    loads = [f"ours {ours.get('loadavg_1m_before')}", f"peer {peer.get('loadavg_1m_before')}"]
    if batch is not None:
        loads.insert(0, f"batch {batch.get('loadavg_1m_before')}")
    print(f"1-min load average before the timed phases: {', '.join(loads)} "
          f"({os.cpu_count()} CPUs); server log lines by level: {ours.get('server_log')}"
          + ("" if batch is None else f", batch server: {batch.get('server_log')}"))
    for label, row in (("batch", batch or {}), ("ours", ours), ("peer", peer)):
        for sample in row.get("error_samples", []):
            print(f"  error ({label}): {sample}")
        if row.get("server_errors"):
            print(f"  server log errors ({label}):\n{row['server_errors']}")
    print(targets_line(kind, result, args.clients))


def print_bare_floor(floor: dict[str, Any], clients: int) -> None:
    """The bare FastAPI app's figures, and what they leave of the single-event targets."""
    get, post = floor["get"], floor["post"]
    print(f"\nbare FastAPI app (bench.bare_http: same body validated, no storage), "
          f"{clients} clients, one process:")
    for label, row in (("GET /health", get), ("POST event body", post)):
        print(f"  {label:16}{row['per_second']:>10,.1f} requests/s"
              f"{_fmt(row['server_cpu_ms_per_request'], 3):>9} ms server CPU/request"
              f"{_fmt(row['client_cpu_ms_per_request'], 3):>9} ms client CPU/request"
              f"  ({row['failures']} failures)")
    cpu, client = post["server_cpu_ms_per_request"], post["client_cpu_ms_per_request"]
    cores = os.cpu_count() or 1
    if cpu:
        print(f"  the 1.0 ms/event target leaves {1.0 - cpu:.2f} ms for everything the ledger "
              f"does; with the bench's clients ({client:.2f} ms each) this machine's {cores} "
              f"cores cannot post more than ~{cores * 1000 / (cpu + client):,.0f} bare "
              "single-event requests/s")


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def targets_line(kind: str, result: dict[str, Any], clients: int) -> str:
    """The write-path targets beside this run's figures (for reading, not an assertion)."""
    ours, batch = result.get("ours", {}), result.get("batch")
    peer_ratio = _x(result.get("ratio_ours_to_peer"))
    if batch is not None:
        peer_ratio += f" single, {_x(result.get('ratio_batch_to_peer'))} batch"
    measured = {name: "other store" for name in TARGET_PEER_RATIO} | {kind: peer_ratio}
    cpu = _ms(ours.get("server_cpu_ms_per_event"))
    if batch is not None:
        cpu += f" single, {_ms(batch.get('server_cpu_ms_per_event'))} batch"
    p99 = f"{_ms(ours.get('latency_ms', {}).get('p99'))} at {clients} clients"
    batch_ratio = _x(result.get("ratio_batch_to_single")) if batch is not None else "no --batch"
    return (f"targets (measured): PostgreSQL >= {TARGET_PEER_RATIO['postgresql']:g}x peer "
            f"({measured['postgresql']}); SQLite >= {TARGET_PEER_RATIO['sqlite']:g}x peer "
            f"({measured['sqlite']}); server CPU <= {TARGET_CPU_MS:g} ms/event ({cpu}); "
            f"p99 <= {TARGET_P99_MS:g} ms at {TARGET_P99_CLIENTS} clients ({p99}); "
            f"batch >= {TARGET_BATCH_RATIO:g}x single ({batch_ratio})")


def ratio(numerator: dict[str, Any] | None, denominator: dict[str, Any] | None
          ) -> float | None:
    """events/s of one row over another's, or None when either is missing or zero."""
    if not numerator or not denominator or not denominator.get("events_per_second"):
        return None
    return round(float(numerator["events_per_second"])
                 / float(denominator["events_per_second"]), 4)
