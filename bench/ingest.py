"""Ingest benchmark: the real `trial-ledger serve` over HTTP against a bare eventsourcing peer.

    .venv/bin/python -m bench.ingest [--store sqlite|postgresql|both] [--clients 16]
        [--events 2000] [--participants 200] [--workers 1] [--batch 0]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--timeout 600] [--no-idempotency-keys] [--json] [--json-file PATH]

For each store kind, in one run:

* ours: a fresh store (a temp SQLite file, or `CREATE DATABASE bench_<random>`), `trial-ledger
  db upgrade` and `trial-ledger users add` as subprocesses, the real server as a subprocess
  on a free loopback port, then N `POST /api/v1/participants/{id}/events` from C concurrent
  HTTP clients (threads, one keep-alive `httpx.Client` each), spread over P participants
  enrolled beforehand (enrollment is not timed). Every non-201 is an error; the chain is
  checked with `GET /api/v1/ledger/verify` (auditor) before and after.
* peer: the bare `eventsourcing` `Application` with its stock recorder on a fresh store of
  the same kind, one aggregate per participant, one event per `save()` (one transaction
  each), from the same number of threads, in this process (no HTTP).

--workers N runs `serve --workers N` (N API processes under the serve process, which also
runs the projection worker); the server CPU is then summed over that whole process tree,
and the timed phase starts only once every API process has finished starting.

--batch K also posts the same events, in consecutive batches of K, to
`POST /api/v1/events/batch` on a second fresh store and server (each event with its own
idempotency_key; a batch waits for the earlier batches holding its participants, so each
participant's events stay in order). Every item must answer 201. The table then shows the
batch route (events/s, request latency, CPU per event), the single-event route and the peer.

Prints one table per store, each followed by the write-path targets beside the measured
figures, and, with --json, a JSON document with every figure. Exits 1 if any request or
batch item failed, a ledger did not verify, or the run hit --timeout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import ingest_batch
from bench.harness import (
    AUDITOR,
    COORDINATOR,
    DEFAULT_PG_URL,
    SITES,
    BenchFailure,
    Deadline,
    code_version,
    library_versions,
    loadavg_1m,
    log,
    random_text,
)
from bench.ingest_batch import post_batches
from bench.ingest_report import check_result, print_table
from bench.ingest_workload import Workload
from bench.peers import bench_peer
from bench.server import (
    Server,
    fetch_token,
    fetch_verify,
    free_port,
    tree_cpu_seconds,
    with_server_errors,
)
from bench.stores import fresh_store, require_loopback
from bench.workers import REQUEST_TIMEOUT_S, PhaseResult, Sample, run_workers

# -- ours: the real server ----------------------------------------------------------------


def _post_phase(server: Server, token: str, jobs: Sequence[tuple[str, dict[str, Any]]],
                clients: int, deadline: Deadline, key_prefix: str | None) -> PhaseResult:
    """POST every job from `clients` threads, each with its own keep-alive connection."""
    encoded = [(pid, json.dumps(body, separators=(",", ":")).encode()) for pid, body in jobs]
    opened: list[httpx.Client] = []
    opened_lock = threading.Lock()

    def make_worker(_: int) -> Callable[[int], Sample]:
        client = httpx.Client(
            base_url=server.base_url, timeout=REQUEST_TIMEOUT_S,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        with opened_lock:
            opened.append(client)
        client.get("/health").raise_for_status()  # open the connection before the clock

        def post(job: int) -> Sample:
            pid, payload = encoded[job]
            headers = {"Idempotency-Key": f"{key_prefix}-{job}"} if key_prefix else None
            started = time.perf_counter()
            try:
                reply = client.post(f"/api/v1/participants/{pid}/events", content=payload,
                                    headers=headers)
            except httpx.HTTPError as error:
                return Sample(0, time.perf_counter() - started, f"{type(error).__name__}: {error}")
            elapsed = time.perf_counter() - started
            detail = "" if reply.status_code == 201 else reply.text[:300]
            return Sample(reply.status_code, elapsed, detail)

        return post

    def close_all() -> None:
        for client in opened:
            client.close()

    try:
        return run_workers(len(encoded), clients, deadline, make_worker, setup_done=close_all)
    finally:
        close_all()



def bench_ours(kind: str, args: argparse.Namespace, workload: Workload, run_id: str,
               workdir: Path, deadline: Deadline, batch: int = 0) -> dict[str, Any]:
    """One fresh store and server; the timed phase posts one event per request, or with
    batch > 0 that many per request to the batch route."""
    label = f"ours_batch{batch}" if batch else "ours"
    route = f"batch route, {batch} events per request" if batch else "single-event route"
    with fresh_store(kind, args.pg_url, label, workdir) as store:
        env = {
            **os.environ,
            "TRIAL_LEDGER_DATABASE_URL": store["url"],
            "TRIAL_LEDGER_JWT_SECRET": random_text(48),
            "TRIAL_LEDGER_SECRETS_DIR": str(workdir / f"secrets-{kind}-{label}"),
            "TRIAL_LEDGER_TOKEN_TTL_MINUTES": str(min(24 * 60, math.ceil(args.timeout / 60) + 15)),
        }
        server = Server(env, workdir, deadline, workers=args.workers)
        server.cli("db", "upgrade")
        passwords = {COORDINATOR: random_text(24), AUDITOR: random_text(24)}
        site_args = [arg for site in SITES for arg in ("--site", site)]
        server.cli("users", "add", COORDINATOR, "--role", "site_coordinator", *site_args,
                   "--full-name", "Bench Coordinator", "--password-stdin",
                   stdin=passwords[COORDINATOR] + "\n")
        server.cli("users", "add", AUDITOR, "--role", "auditor", "--full-name", "Bench Auditor",
                   "--password-stdin", stdin=passwords[AUDITOR] + "\n")

        log(f"[{kind}] ours ({route}): starting trial-ledger serve --workers {args.workers} "
             f"on {server.base_url}")
        with server, with_server_errors(server), \
                httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
            token = fetch_token(client, COORDINATOR, passwords[COORDINATOR])
            auditor = fetch_token(client, AUDITOR, passwords[AUDITOR])
            before = fetch_verify(client, auditor)  # the account events
            if not before.get("ok"):
                raise BenchFailure(f"the fresh ledger does not verify: {before}")

            log(f"[{kind}] ours: enrolling {len(workload.participants)} participants (untimed)")
            enrollments = [(pid, workload.enrollment(i))
                           for i, pid in enumerate(workload.participants)]
            enrolled = _post_phase(server, token, enrollments, args.clients, deadline,
                                   f"enroll-{run_id}" if args.idempotency_keys else None)
            if enrolled.errors:
                raise BenchFailure(f"enrollment failed: {enrolled.as_dict()}")
            deadline.check("enrolling participants")

            log(f"[{kind}] ours: posting {len(workload.events)} events from {args.clients} "
                 f"clients, {route} (timed)")
            assert server.proc is not None
            timed_load = loadavg_1m()
            cpu_before, processes = tree_cpu_seconds(server.proc.pid)
            client_cpu_before = time.process_time()
            if batch:  # the batch route needs every event's key, whatever --no-idempotency-keys
                timed: PhaseResult = post_batches(server.base_url, token, workload.events,
                                                  batch, args.clients, deadline,
                                                  f"event-{run_id}")
            else:
                timed = _post_phase(server, token, workload.events, args.clients, deadline,
                                    f"event-{run_id}" if args.idempotency_keys else None)
            cpu_after, processes_after = tree_cpu_seconds(server.proc.pid)
            client_cpu = time.process_time() - client_cpu_before
            timed.extra["route"] = route
            timed.extra["server_processes"] = max(processes, processes_after)
            if cpu_before is not None and cpu_after is not None:
                timed.extra["server_cpu_seconds"] = round(cpu_after - cpu_before, 2)
                timed.extra["server_cpu_ms_per_event"] = (
                    round((cpu_after - cpu_before) * 1000 / timed.ok, 2) if timed.ok else None)
            timed.extra["bench_client_cpu_seconds"] = round(client_cpu, 2)
            timed.extra["loadavg_1m_before"] = timed_load
            timed.extra["server_alive_after"] = server.alive()

            after = fetch_verify(client, auditor) if server.alive() else {"ok": False,
                                                                      "problem": "server died"}
            expected = before.get("events", 0) + enrolled.ok + timed.ok
            verify = {
                "ok": bool(after.get("ok")),
                "events": after.get("events"),
                "expected_events": expected,
                "accounts_and_enrollments": before.get("events", 0) + enrolled.ok,
                "posted_events": timed.ok,
                "head": after.get("head"),
                "problem": after.get("problem"),
            }
            timed.extra["verify"] = verify
            if server.alive():
                # Looked up at call time: bench.profile_serve puts its own in its place.
                timed.extra["http_floor"] = ingest_batch.http_floor(
                    server.base_url, server.proc.pid, args.clients, deadline, auditor)
            timed.extra["server_log"] = server.log_counts()
            if timed.errors:
                timed.extra["server_log_tail"] = server.log_tail(15)
                timed.extra["server_errors"] = server.error_lines()
        return timed.as_dict()


# -- the run ------------------------------------------------------------------------------


def _bare_http(args: argparse.Namespace, workload: Workload, workdir: Path) -> dict[str, Any]:
    """The web stack's floor on this machine, measured in the same run (bench.bare_http)."""
    from bench.bare_http import bare_floor
    from bench.ingest_report import print_bare_floor

    log(f"bare FastAPI app: GET and POST from {args.clients} clients")
    floor = bare_floor(args.clients, workload.events, workdir, free_port())
    print_bare_floor(floor, args.clients)
    return floor


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Ingest throughput of the real trial-ledger server vs. the bare "
                    "eventsourcing library, on SQLite and/or PostgreSQL.")
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=16,
                        help="concurrent HTTP clients (and peer threads)")
    parser.add_argument("--events", type=int, default=2000, help="timed events to post")
    parser.add_argument("--participants", type=int, default=200,
                        help="participants enrolled first (untimed); events are spread over them")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="a PostgreSQL server on 127.0.0.1 where bench databases may be "
                             "created and dropped")
    parser.add_argument("--workers", type=int, default=1,
                        help="API processes: passed to `trial-ledger serve --workers`")
    parser.add_argument("--batch", type=int, default=0, metavar="K",
                        help="also post the events K per request to POST /api/v1/events/batch "
                             "(1-500), on a second fresh store; 0: single-event route only")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="give up after this many seconds for the whole run")
    parser.add_argument("--no-idempotency-keys", dest="idempotency_keys", action="store_false",
                        help="do not send an Idempotency-Key header (sent by default, as an "
                             "EDC would)")
    parser.add_argument("--json", action="store_true", help="print a JSON document at the end")
    parser.add_argument("--json-file", type=Path, help="also write the JSON document here")
    args = parser.parse_args(argv)
    for name in ("clients", "events", "participants"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 1 <= args.workers <= 64:
        parser.error("--workers must be 1 to 64")
    if not 0 <= args.batch <= 500:
        parser.error("--batch must be 0 to 500 (the batch route takes at most 500 events)")
    if args.clients > 256:
        parser.error("--clients is capped at 256")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    if "postgresql" in kinds:
        require_loopback(args.pg_url)
    deadline = Deadline(args.timeout)
    run_id = secrets.token_hex(3)
    workload = Workload.build(args.participants, args.events, run_id)
    report: dict[str, Any] = {
        "benchmark": "bench.ingest",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([".venv/bin/python -m bench.ingest",
                             *(sys.argv[1:] if argv is None else argv)]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1m_at_start": loadavg_1m()},
        "versions": library_versions(args.pg_url, kinds),
        "code": code_version(),
        "server_env_inherited": {
            name: value for name, value in sorted(os.environ.items())
            if name.startswith("TRIAL_LEDGER_")
            and not any(word in name for word in ("SECRET", "PASSWORD", "DATABASE_URL"))
        },
        "params": {"clients": args.clients, "events": args.events,
                   "participants": args.participants,
                   "idempotency_keys": args.idempotency_keys, "timeout_s": args.timeout,
                   "workers": args.workers, "batch": args.batch},
        "results": {},
    }
    load = report["machine"]["loadavg_1m_at_start"]
    if load is not None and load > (os.cpu_count() or 1):
        log(f"warning: the 1-min load average is {load} on {os.cpu_count()} CPUs: other work "
             "on this machine will lower and scatter every figure")
    failed: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="trial-ledger-bench-"))
    try:
        for kind in kinds:
            result: dict[str, Any] = {}
            report["results"][kind] = result
            try:
                if args.batch:
                    result["batch"] = bench_ours(kind, args, workload, run_id, workdir,
                                                 deadline, batch=args.batch)
                result["ours"] = bench_ours(kind, args, workload, run_id, workdir, deadline)
                result["peer"] = bench_peer(kind, args, workload, workdir, deadline)
            except (BenchFailure, httpx.HTTPError, OSError) as error:
                result["failure"] = f"{type(error).__name__}: {error}"
                failed.append(f"{kind}: {error}")
                log(f"[{kind}] FAILED: {error}")
                for name in ("batch", "ours"):
                    if name in result:
                        row = result[name]
                        log(f"[{kind}] {name} so far: {row['ok']} of {row['attempted']} events "
                             f"answered 201 at {row['events_per_second']} events/s, statuses "
                             f"{row['statuses']}, finished={row['finished']}, error samples "
                             f"{row['error_samples']}")
                continue
            failed += check_result(kind, result, args, workload)
            print_table(kind, result, args)
        if not failed:
            report["bare_http"] = _bare_http(args, workload, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["ok"] = not failed
    report["failures"] = failed
    document = json.dumps(report, indent=2)
    if args.json_file:
        args.json_file.write_text(document + "\n")
    if args.json:
        print(document)
    if failed:
        print("\nFAILED:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
