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
import contextlib
import itertools
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import httpx
from eventsourcing.application import Application
from eventsourcing.domain import (
    BaseAggregate,
    CanCreateTimestamp,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SITES = ("S01", "S02", "S03", "S04")
COORDINATOR = "bench-coord"
AUDITOR = "bench-auditor"
REQUEST_TIMEOUT_S = 60.0
HEALTH_WAIT_S = 120.0
MAX_ERROR_SAMPLES = 5


class BenchFailure(RuntimeError):
    """The run cannot go on (a subprocess failed, the server died, the deadline passed)."""


# -- time budget --------------------------------------------------------------------------


class Deadline:
    """One budget for the whole run: every wait and every loop checks it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.ends

    def check(self, what: str) -> None:
        if self.expired():
            raise BenchFailure(f"gave up after --timeout {self.seconds:g} s while {what}")


# -- measurements -------------------------------------------------------------------------


@dataclass
class Sample:
    status: int  # HTTP status; for the peer 201 = saved, 0 = exception
    seconds: float
    detail: str = ""


@dataclass
class PhaseResult:
    """What a timed phase did: how many, how fast, and what went wrong."""

    attempted: int
    wall_seconds: float
    samples: list[Sample]
    finished: bool  # False when the deadline stopped the workers early
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(1 for s in self.samples if s.status == 201)

    @property
    def errors(self) -> int:
        return len(self.samples) - self.ok + (self.attempted - len(self.samples))

    def per_second(self) -> float:
        return self.ok / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def latency_ms(self) -> dict[str, float | None]:
        times = sorted(s.seconds for s in self.samples if s.status == 201)
        return {
            "p50": _percentile(times, 50),
            "p95": _percentile(times, 95),
            "p99": _percentile(times, 99),
            "max": round(times[-1] * 1000, 2) if times else None,
        }

    def as_dict(self) -> dict[str, Any]:
        statuses = Counter(s.status for s in self.samples)
        errors = [s for s in self.samples if s.status != 201]
        return {
            "attempted": self.attempted,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "error_samples": [f"{s.status}: {s.detail}" for s in errors[:MAX_ERROR_SAMPLES]],
            "finished": self.finished,
            "wall_seconds": round(self.wall_seconds, 3),
            "events_per_second": round(self.per_second(), 1),
            "latency_ms": self.latency_ms(),
            **self.extra,
        }


def _percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1] * 1000, 2)


def run_workers(
    n_jobs: int,
    n_workers: int,
    deadline: Deadline,
    make_worker: Callable[[int], Callable[[int], Sample]],
    setup_done: Callable[[], None] | None = None,
) -> PhaseResult:
    """Run jobs 0..n_jobs-1 on n_workers threads; the clock starts when every worker is ready.

    `make_worker(w)` runs in worker thread w (e.g. opens its HTTP client) and returns the
    function that performs one job. Workers stop taking jobs when the deadline passes.
    """
    counter = itertools.count()
    counter_lock = threading.Lock()
    barrier = threading.Barrier(n_workers + 1)
    per_worker: list[list[Sample]] = [[] for _ in range(n_workers)]
    setup_errors: list[BaseException] = []
    stopped_early = threading.Event()

    def next_job() -> int | None:
        with counter_lock:
            job = next(counter)
        if job >= n_jobs:
            return None
        if deadline.expired():
            stopped_early.set()
            return None
        return job

    def body(w: int) -> None:
        try:
            do_job = make_worker(w)
        except BaseException as error:  # noqa: BLE001 - reported after the barrier
            setup_errors.append(error)
            barrier.abort()
            return
        try:
            barrier.wait(timeout=max(1.0, deadline.remaining()))
        except threading.BrokenBarrierError:
            return
        samples = per_worker[w]
        while (job := next_job()) is not None:
            samples.append(do_job(job))

    threads = [threading.Thread(target=body, args=(w,), name=f"bench-{w}", daemon=True)
               for w in range(n_workers)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(timeout=max(1.0, deadline.remaining()))
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join(timeout=5)
        raise BenchFailure(f"a worker could not start: {setup_errors[:1]!r}") from None
    started = time.perf_counter()
    for thread in threads:
        # Each job is itself bounded (HTTP timeout / lock timeout), so this join ends.
        thread.join(timeout=deadline.remaining() + REQUEST_TIMEOUT_S + 5)
    wall = time.perf_counter() - started
    if setup_done is not None:
        setup_done()
    if any(thread.is_alive() for thread in threads):
        raise BenchFailure("a worker did not finish within --timeout + request timeout")
    samples = [s for worker in per_worker for s in worker]
    return PhaseResult(attempted=n_jobs, wall_seconds=wall, samples=samples,
                       finished=not stopped_early.is_set() and len(samples) == n_jobs)


# -- the workload: the same events for ours and the peer ----------------------------------


@dataclass(frozen=True)
class Workload:
    participants: list[str]
    enrolled_on: date
    events: list[tuple[str, dict[str, Any]]]  # (participant_id, API body), in posting order

    @classmethod
    def build(cls, n_participants: int, n_events: int, run_id: str) -> Workload:
        per_participant = math.ceil(n_events / n_participants)
        span = min(per_participant, 3000)  # dates cycle after ~8 years of daily entries
        enrolled_on = datetime.now(UTC).date() - timedelta(days=span + 30)
        ids = [f"BENCH-{run_id.upper()}-{i:05d}" for i in range(n_participants)]
        events = []
        for i in range(n_events):
            k = i // n_participants  # this participant's k-th event after enrollment
            on = (enrolled_on + timedelta(days=1 + k % span)).isoformat()
            if k % 2 == 0:
                body = {"type": "FollowUpContact", "occurred_on": on, "data": {"alive": True}}
            else:
                body = {"type": "DoseAdministered", "occurred_on": on,
                        "data": {"drug": "camrelizumab", "dose_mg": 200, "route": "IV",
                                 "cycle": k // 2 + 1}}
            events.append((ids[i % n_participants], body))
        return cls(ids, enrolled_on, events)

    def enrollment(self, index: int) -> dict[str, Any]:
        return {
            "type": "ParticipantEnrolled",
            "occurred_on": self.enrolled_on.isoformat(),
            "data": {
                "site_id": SITES[index % len(SITES)],
                "consented_on": (self.enrolled_on - timedelta(days=5)).isoformat(),
                "sex": "MF"[index % 2], "birth_year": 1950 + index % 20, "ecog": index % 3,
                "child_pugh": ("A5", "A6", "B7")[index % 3], "bclc": ("B", "C")[index % 2],
                "pvtt": index % 3 == 0, "extrahepatic_spread": index % 4 == 0,
                "etiology": ("HBV", "HCV", "alcohol", "NAFLD", "other")[index % 5],
                "afp_ng_ml": float(10 + index % 900),
            },
        }


# -- stores -------------------------------------------------------------------------------


def _require_loopback(url: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(url).host or "127.0.0.1"
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"--pg-url must name a server on 127.0.0.1 (got host {host!r})")


def _pg_url_for(admin_url: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql", database=dbname)
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_store(kind: str, pg_admin_url: str, label: str, workdir: Path
                ) -> Iterator[dict[str, str]]:
    """A new, empty store; yields {"url": ..., plus sqlite_path or dbname}. Removed after."""
    if kind == "sqlite":
        path = workdir / f"{label}.db"
        try:
            yield {"url": f"sqlite:///{path}", "sqlite_path": str(path)}
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
        return

    import psycopg
    from psycopg import sql

    dbname = f"bench_{secrets.token_hex(5)}_{label}"
    with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield {"url": _pg_url_for(pg_admin_url, dbname), "dbname": dbname}
    finally:
        try:
            with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=10) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                              .format(sql.Identifier(dbname)))
        except Exception as error:  # noqa: BLE001 - cleanup must not hide the real outcome
            print(f"warning: could not drop database {dbname}: {error}", file=sys.stderr)


# -- ours: the real server ----------------------------------------------------------------


def _cli() -> str:
    here = Path(sys.executable).parent / "trial-ledger"
    found = str(here) if here.exists() else shutil.which("trial-ledger")
    if not found:
        raise SystemExit("the trial-ledger command is not installed in this environment")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _random_text(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


class Server:
    """`trial-ledger serve` as a subprocess on a free loopback port, stopped on exit."""

    def __init__(self, env: dict[str, str], logdir: Path, deadline: Deadline,
                 workers: int = 1) -> None:
        self.env = env
        self.deadline = deadline
        self.workers = workers
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = logdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        self.deadline.check(f"running trial-ledger {' '.join(args[:2])}")
        try:
            done = subprocess.run([_cli(), *args], env=self.env, input=stdin, text=True,
                                  capture_output=True,
                                  timeout=max(1.0, self.deadline.remaining()), check=False)
        except subprocess.TimeoutExpired:
            raise BenchFailure(f"gave up after --timeout {self.deadline.seconds:g} s while "
                               f"running trial-ledger {' '.join(args[:2])}") from None
        if done.returncode != 0:
            raise BenchFailure(f"trial-ledger {' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def __enter__(self) -> Self:
        log = self.log_path.open("wb")
        try:
            self.proc = subprocess.Popen(
                [_cli(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        from bench.ingest_batch import wait_processes_settled

        # API processes take a while to start on a loaded machine (30 s and more).
        limit = time.monotonic() + HEALTH_WAIT_S
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < limit:
                if self.proc.poll() is not None:
                    raise BenchFailure(f"the server exited with {self.proc.returncode}:\n"
                                       f"{self.log_tail()}")
                self.deadline.check("waiting for GET /health")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise BenchFailure(f"GET /health did not answer 200 within {HEALTH_WAIT_S:g} "
                                   f"s:\n{self.log_tail()}")
        if self.workers > 1:
            waited = wait_processes_settled(self.proc.pid, self.workers, self.deadline)
            _log(f"  the {self.workers} API processes settled {waited:.1f} s after /health")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        from bench.ingest_batch import descendants

        children = descendants(self.proc.pid)
        # uvicorn shuts down on SIGTERM (lifespan closes the ledger), its API processes too.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            for child in children:  # the API processes it could not stop (same pid, same cmd)
                with contextlib.suppress(OSError):
                    if b"multiprocessing" in Path(f"/proc/{child}/cmdline").read_bytes():
                        os.kill(child, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def error_lines(self, limit: int = 4) -> str:
        """The first error-level log line of each kind: its fields, the project's frames of
        its traceback (not the libraries') and the exception."""
        root = str(Path(__file__).resolve().parents[1])
        found: dict[str, str] = {}
        try:
            with self.log_path.open(errors="replace") as log:
                for line in log:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(record, dict) or record.get("level") not in (
                            "error", "critical") or record.get("event") in found:
                        continue
                    lines = str(record.pop("exception", "")).strip().splitlines()
                    frames = [f.strip().replace(root + "/", "") for f in lines
                              if f.strip().startswith(f'File "{root}/')
                              and "/.venv/" not in f]
                    found[str(record.get("event"))] = "\n    ".join(
                        [json.dumps(record)[:300], *frames, *lines[-1:]])
                    if len(found) >= limit:
                        break
        except OSError:
            pass
        return "\n".join(found.values()) or "(no error lines in the server log)"

    def log_counts(self) -> dict[str, int]:
        """Server log lines by level (JSON lines), and tracebacks: a quick health check."""
        counts: Counter[str] = Counter()
        try:
            with self.log_path.open(errors="replace") as log:
                for line in log:
                    try:
                        level = str(json.loads(line).get("level", "?"))
                    except (ValueError, AttributeError):
                        level = "traceback" if line.startswith("Traceback") else "other"
                    counts[level] += 1
        except OSError:
            pass
        return dict(counts)


def _token(client: httpx.Client, username: str, password: str) -> str:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if reply.status_code != 200:
        raise BenchFailure(f"token for {username}: {reply.status_code} {reply.text[:300]}")
    return str(reply.json()["access_token"])


def _verify(client: httpx.Client, auditor_token: str) -> dict[str, Any]:
    reply = client.get("/api/v1/ledger/verify",
                       headers={"Authorization": f"Bearer {auditor_token}"}, timeout=120)
    if reply.status_code != 200:
        raise BenchFailure(f"GET /api/v1/ledger/verify: {reply.status_code} {reply.text[:300]}")
    result: dict[str, Any] = reply.json()
    return result


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


@contextlib.contextmanager
def _with_server_errors(server: Server) -> Iterator[None]:
    """A failure while the server runs is reported with the server's own errors."""
    try:
        yield
    except (BenchFailure, httpx.HTTPError) as error:
        raise BenchFailure(f"{error}\nserver errors:\n{server.error_lines()}") from error


def bench_ours(kind: str, args: argparse.Namespace, workload: Workload, run_id: str,
               workdir: Path, deadline: Deadline, batch: int = 0) -> dict[str, Any]:
    """One fresh store and server; the timed phase posts one event per request, or with
    batch > 0 that many per request to the batch route."""
    from bench.ingest_batch import http_floor, post_batches, tree_cpu_seconds

    label = f"ours_batch{batch}" if batch else "ours"
    route = f"batch route, {batch} events per request" if batch else "single-event route"
    with fresh_store(kind, args.pg_url, label, workdir) as store:
        env = {
            **os.environ,
            "TRIAL_LEDGER_DATABASE_URL": store["url"],
            "TRIAL_LEDGER_JWT_SECRET": _random_text(48),
            "TRIAL_LEDGER_SECRETS_DIR": str(workdir / f"secrets-{kind}-{label}"),
            "TRIAL_LEDGER_TOKEN_TTL_MINUTES": str(min(24 * 60, math.ceil(args.timeout / 60) + 15)),
        }
        server = Server(env, workdir, deadline, workers=args.workers)
        server.cli("db", "upgrade")
        passwords = {COORDINATOR: _random_text(24), AUDITOR: _random_text(24)}
        site_args = [arg for site in SITES for arg in ("--site", site)]
        server.cli("users", "add", COORDINATOR, "--role", "site_coordinator", *site_args,
                   "--full-name", "Bench Coordinator", "--password-stdin",
                   stdin=passwords[COORDINATOR] + "\n")
        server.cli("users", "add", AUDITOR, "--role", "auditor", "--full-name", "Bench Auditor",
                   "--password-stdin", stdin=passwords[AUDITOR] + "\n")

        _log(f"[{kind}] ours ({route}): starting trial-ledger serve --workers {args.workers} "
             f"on {server.base_url}")
        with server, _with_server_errors(server), \
                httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
            token = _token(client, COORDINATOR, passwords[COORDINATOR])
            auditor = _token(client, AUDITOR, passwords[AUDITOR])
            before = _verify(client, auditor)  # the account events
            if not before.get("ok"):
                raise BenchFailure(f"the fresh ledger does not verify: {before}")

            _log(f"[{kind}] ours: enrolling {len(workload.participants)} participants (untimed)")
            enrollments = [(pid, workload.enrollment(i))
                           for i, pid in enumerate(workload.participants)]
            enrolled = _post_phase(server, token, enrollments, args.clients, deadline,
                                   f"enroll-{run_id}" if args.idempotency_keys else None)
            if enrolled.errors:
                raise BenchFailure(f"enrollment failed: {enrolled.as_dict()}")
            deadline.check("enrolling participants")

            _log(f"[{kind}] ours: posting {len(workload.events)} events from {args.clients} "
                 f"clients, {route} (timed)")
            assert server.proc is not None
            timed_load = _loadavg()
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

            after = _verify(client, auditor) if server.alive() else {"ok": False,
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
                timed.extra["http_floor"] = http_floor(server.base_url, server.proc.pid,
                                                       args.clients, deadline, auditor)
            timed.extra["server_log"] = server.log_counts()
            if timed.errors:
                timed.extra["server_log_tail"] = server.log_tail(15)
                timed.extra["server_errors"] = server.error_lines()
        return timed.as_dict()


# -- the peer: the bare eventsourcing library ---------------------------------------------


class PeerEvent(CanMutateAggregate[str], CanCreateTimestamp, metaclass=MetaDomainEvent):
    """A plain library event with the same fields our stored events carry."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    event_id: str
    occurred_on: str
    data: dict[str, Any]
    reason: str | None
    actor: str
    role: str
    site_id: str | None
    client_request_id: str | None


class PeerParticipant(BaseAggregate[str]):
    """One aggregate per participant, string ids; no rules, no validation."""

    class Event(PeerEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.last_event_id = self.event_id

    class ParticipantEnrolled(Event, CanInitAggregate[str]):
        originator_topic: str

        def apply(self, aggregate: Any) -> None:
            aggregate.site_id = self.site_id
            aggregate.last_event_id = self.event_id

    class FollowUpContact(Event):
        pass

    class DoseAdministered(Event):
        pass

    site_id: str | None

    @classmethod
    def enroll(cls, participant_id: str, **fields: Any) -> PeerParticipant:
        return cls._create(cls.ParticipantEnrolled, id=participant_id, **fields)

    def record(self, type_name: str, **fields: Any) -> None:
        self.trigger_event(getattr(self, type_name), site_id=self.site_id, **fields)


def _peer_fields(body: dict[str, Any], job: int) -> dict[str, Any]:
    import uuid

    return {"event_id": str(uuid.uuid4()), "occurred_on": body["occurred_on"],
            "data": body["data"], "reason": None, "actor": COORDINATOR,
            "role": "site_coordinator", "client_request_id": f"peer-{job}"}


def bench_peer(kind: str, args: argparse.Namespace, workload: Workload, workdir: Path,
               deadline: Deadline) -> dict[str, Any]:
    deadline.check("starting the peer")
    with fresh_store(kind, args.pg_url, "peer", workdir) as store:
        env = {"CREATE_TABLE": "y", "ORIGINATOR_ID_TYPE": "text"}
        if kind == "sqlite":
            env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": store["sqlite_path"], "SQLITE_LOCK_TIMEOUT": "10"}
        else:
            from sqlalchemy.engine import make_url

            url = make_url(store["url"])
            # The same pool settings and lock timeout as the server's defaults
            # (infra.db.DatabaseURL.eventsourcing_env, infra.settings).
            env |= {"PERSISTENCE_MODULE": "eventsourcing.postgres",
                    "POSTGRES_DBNAME": store["dbname"], "POSTGRES_HOST": url.host or "127.0.0.1",
                    "POSTGRES_PORT": str(url.port or 5432),
                    "POSTGRES_USER": url.username or "postgres",
                    "POSTGRES_PASSWORD": url.password or "", "POSTGRES_LOCK_TIMEOUT": "10",
                    "POSTGRES_POOL_SIZE": "8", "POSTGRES_MAX_OVERFLOW": "8",
                    "POSTGRES_PRE_PING": "y"}
        app: Application[str] = Application(env=env)  # the stock recorder
        try:
            aggregates: dict[str, PeerParticipant] = {}
            locks = {pid: threading.Lock() for pid in workload.participants}

            _log(f"[{kind}] peer: enrolling {len(workload.participants)} aggregates (untimed)")

            def make_enroller(_: int) -> Callable[[int], Sample]:
                def enroll(job: int) -> Sample:
                    pid = workload.participants[job]
                    body = workload.enrollment(job)
                    started = time.perf_counter()
                    try:
                        aggregate = PeerParticipant.enroll(
                            pid, site_id=body["data"]["site_id"], **_peer_fields(body, job))
                        app.save(aggregate)
                    except Exception as error:  # noqa: BLE001 - counted and reported
                        return Sample(0, time.perf_counter() - started, repr(error)[:300])
                    aggregates[pid] = aggregate
                    return Sample(201, time.perf_counter() - started)
                return enroll

            enrolled = run_workers(len(workload.participants), args.clients, deadline,
                                   make_enroller)
            if enrolled.errors:
                raise BenchFailure(f"peer enrollment failed: {enrolled.as_dict()}")
            deadline.check("enrolling peer aggregates")

            _log(f"[{kind}] peer: saving {len(workload.events)} events from {args.clients} "
                 "threads (timed)")

            def make_saver(_: int) -> Callable[[int], Sample]:
                def save(job: int) -> Sample:
                    pid, body = workload.events[job]
                    started = time.perf_counter()
                    try:
                        with locks[pid]:
                            aggregate = aggregates[pid]
                            aggregate.record(body["type"], **_peer_fields(body, job))
                            app.save(aggregate)  # one event, one transaction
                    except Exception as error:  # noqa: BLE001 - counted and reported
                        return Sample(0, time.perf_counter() - started, repr(error)[:300])
                    return Sample(201, time.perf_counter() - started)
                return save

            timed_load = _loadavg()
            cpu_before = time.process_time()
            timed = run_workers(len(workload.events), args.clients, deadline, make_saver)
            if timed.ok:  # the library's own CPU per event (this process: no HTTP client)
                timed.extra["server_cpu_ms_per_event"] = round(
                    (time.process_time() - cpu_before) * 1000 / timed.ok, 2)
            timed.extra["loadavg_1m_before"] = timed_load
            stored = _count_notifications(app, len(workload.participants) + len(workload.events))
            timed.extra["stored_events"] = stored
            timed.extra["expected_events"] = enrolled.ok + timed.ok
            return timed.as_dict()
        finally:
            app.close()


def _count_notifications(app: Any, expected: int) -> int:
    total, start = 0, None
    for _ in range(expected // 1000 + 5):  # bounded: pages of 1000
        page = app.recorder.select_notifications(start=start, limit=1000)
        if not page:
            break
        total += len(page)
        start = page[-1].id + 1
    return total


# -- the run ------------------------------------------------------------------------------


def _loadavg() -> float | None:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _versions(pg_url: str, kinds: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import version

    found = {"python": platform.python_version(), "eventsourcing": version("eventsourcing"),
             "sqlite": sqlite3.sqlite_version, "uvicorn": version("uvicorn"),
             "fastapi": version("fastapi"), "httpx": version("httpx")}
    if "postgresql" in kinds:
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(pg_url, connect_timeout=5) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                found["postgresql"] = str(row[0]) if row else "?"
                for name in ("synchronous_commit", "fsync", "commit_delay", "wal_sync_method"):
                    row = conn.execute(f"SHOW {name}").fetchone()
                    found[f"pg_{name}"] = str(row[0]) if row else "?"
    return found


def _code_version() -> dict[str, Any]:
    """The commit measured, and how many files differ from it (others may be editing)."""
    root = Path(__file__).resolve().parents[1]
    found: dict[str, Any] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
            timeout=10, check=True).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
            timeout=10, check=True).stdout.splitlines()
        found["uncommitted_files"] = len(changed)
    return found


def _bare_http(args: argparse.Namespace, workload: Workload, workdir: Path) -> dict[str, Any]:
    """The web stack's floor on this machine, measured in the same run (bench.bare_http)."""
    from bench.bare_http import bare_floor
    from bench.ingest_batch import print_bare_floor

    _log(f"bare FastAPI app: GET and POST from {args.clients} clients")
    floor = bare_floor(args.clients, workload.events, workdir, _free_port())
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
    from bench.ingest_batch import check_result, print_table

    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    if "postgresql" in kinds:
        _require_loopback(args.pg_url)
    deadline = Deadline(args.timeout)
    run_id = secrets.token_hex(3)
    workload = Workload.build(args.participants, args.events, run_id)
    report: dict[str, Any] = {
        "benchmark": "bench.ingest",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([".venv/bin/python -m bench.ingest",
                             *(sys.argv[1:] if argv is None else argv)]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1m_at_start": _loadavg()},
        "versions": _versions(args.pg_url, kinds),
        "code": _code_version(),
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
        _log(f"warning: the 1-min load average is {load} on {os.cpu_count()} CPUs: other work "
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
                _log(f"[{kind}] FAILED: {error}")
                for name in ("batch", "ours"):
                    if name in result:
                        row = result[name]
                        _log(f"[{kind}] {name} so far: {row['ok']} of {row['attempted']} events "
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
    # Run the module as bench.ingest, not __main__, so bench.ingest_batch shares its classes
    # (BenchFailure, PhaseResult) instead of importing a second copy.
    from bench.ingest import main as _main

    sys.exit(_main())
