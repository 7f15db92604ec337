"""`trial-ledger serve` as the benches run it: a subprocess on a free loopback port with its
own store and secrets, `trial-ledger` subcommands run the way an operator would, the server's
CPU over its whole process tree (the serve process, its API processes and the projection
worker, read from /proc), and its log read back for errors.

Used by bench.ingest (and so bench.profile_serve) and, for the process tree's CPU, by
bench.bare_http.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx

from bench.harness import BenchFailure, Deadline, log

HEALTH_WAIT_S = 120.0


def trial_ledger_command() -> str:
    """The installed `trial-ledger` command (bench.profile_serve puts a wrapper in its place)."""
    here = Path(sys.executable).parent / "trial-ledger"
    found = str(here) if here.exists() else shutil.which("trial-ledger")
    if not found:
        raise SystemExit("the trial-ledger command is not installed in this environment")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


# -- the server ---------------------------------------------------------------------------


class Server:
    """`trial-ledger serve` as a subprocess on a free loopback port, stopped on exit."""

    def __init__(self, env: dict[str, str], logdir: Path, deadline: Deadline,
                 workers: int = 1, serve_options: tuple[str, ...] = ()) -> None:
        self.env = env
        self.deadline = deadline
        self.workers = workers
        self.serve_options = serve_options
        """More `trial-ledger serve` options (bench.web_pages: `--no-worker`)."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = logdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        self.deadline.check(f"running trial-ledger {' '.join(args[:2])}")
        try:
            done = subprocess.run([trial_ledger_command(), *args], env=self.env, input=stdin, text=True,
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
                [trial_ledger_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers), *self.serve_options],
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
            log(f"  the {self.workers} API processes settled {waited:.1f} s after /health")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
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


# -- requests every bench makes of it -------------------------------------------------------


def fetch_token(client: httpx.Client, username: str, password: str) -> str:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if reply.status_code != 200:
        raise BenchFailure(f"token for {username}: {reply.status_code} {reply.text[:300]}")
    return str(reply.json()["access_token"])


def fetch_verify(client: httpx.Client, auditor_token: str) -> dict[str, Any]:
    reply = client.get("/api/v1/ledger/verify",
                       headers={"Authorization": f"Bearer {auditor_token}"}, timeout=120)
    if reply.status_code != 200:
        raise BenchFailure(f"GET /api/v1/ledger/verify: {reply.status_code} {reply.text[:300]}")
    result: dict[str, Any] = reply.json()
    return result


@contextlib.contextmanager
def with_server_errors(server: Server) -> Iterator[None]:
    """A failure while the server runs is reported with the server's own errors."""
    try:
        yield
    except (BenchFailure, httpx.HTTPError) as error:
        raise BenchFailure(f"{error}\nserver errors:\n{server.error_lines()}") from error
