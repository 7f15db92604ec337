"""What every benchmark here needs around its measurements: one time budget for the run,
progress lines, the machine and the code the figures belong to, percentiles and the
formatting of figures in tables.

The figures recorded in bench/README.md were computed with three percentile definitions
(nearest rank for bench.ingest, linear interpolation for bench.timetravel, a rounded rank
for bench.reads); each bench keeps its own, so that a rerun is comparable with its record.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import secrets
import sqlite3
import string
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SITES = ("S01", "S02", "S03", "S04")
COORDINATOR = "bench-coord"
"""The site coordinator bench.ingest posts as; the peer's events name the same actor."""
AUDITOR = "bench-auditor"


class BenchFailure(RuntimeError):
    """The run cannot go on (a subprocess failed, the server died, the deadline passed)."""


class BenchTimeout(Exception):
    """The run hit --timeout (the in-process benches stop the whole run on it)."""


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
            raise self.failure(what)

    def failure(self, what: str) -> Exception:
        return BenchFailure(f"gave up after --timeout {self.seconds:g} s while {what}")


class RunDeadline(Deadline):
    """The in-process benches' budget: passing it raises BenchTimeout, which ends the run
    (what was measured so far is still printed)."""

    def failure(self, what: str) -> Exception:
        return BenchTimeout(f"--timeout of {self.seconds:.0f} s reached during {what}")


# -- progress lines -------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def log_stamped(message: str, tag: str = "") -> None:
    """A progress line with the wall-clock time (and the bench's name, when given)."""
    stamp = f"{tag} {time.strftime('%H:%M:%S')}" if tag else time.strftime("%H:%M:%S")
    log(f"[{stamp}] {message}")


# -- the machine and the code measured ------------------------------------------------------


def loadavg_1m() -> float | None:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def loadavgs() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, rounded."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def library_versions(pg_url: str, kinds: Sequence[str]) -> dict[str, str]:
    """Python, the libraries on the write path, SQLite, and PostgreSQL's durability settings."""
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


def store_versions(pg_url: str, kinds: Sequence[str]) -> dict[str, str]:
    """Each store kind measured, named with its version ("SQLite 3.40.1")."""
    out = {}
    if "sqlite" in kinds:
        out["sqlite"] = f"SQLite {sqlite3.sqlite_version}"
    if "postgresql" in kinds:
        try:
            import psycopg

            with psycopg.connect(pg_url, connect_timeout=10) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            out["postgresql"] = f"PostgreSQL {row[0] if row else '?'}"
        except Exception as error:  # noqa: BLE001
            out["postgresql"] = f"PostgreSQL (version unknown: {error})"
    return out


def code_version() -> dict[str, Any]:
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


def random_text(n: int) -> str:
    """Letters and digits from the system's CSPRNG (passwords, JWT secrets)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


# -- statistics -----------------------------------------------------------------------------


def percentile_ms(sorted_seconds: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of seconds, in milliseconds (bench.ingest)."""
    if not sorted_seconds:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_seconds)))
    return round(sorted_seconds[rank - 1] * 1000, 2)


def interpolated_percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks, numpy's default (bench.timetravel)."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def rounded_rank_percentile(values: Sequence[float], pct: float) -> float | None:
    """The value at rank round(pct% of n + 0.5), clamped to the samples (bench.reads)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency(samples_s: Sequence[float], cpu_s: Sequence[float] = ()) -> dict[str, Any]:
    """Wall-clock percentiles in ms (interpolated); with `cpu_s`, this thread's CPU time too
    (for SQLite that includes the database work; for PostgreSQL, not the server's)."""
    values = sorted(s * 1000 for s in samples_s)
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None, "min_ms": None,
                "max_ms": None}
    out = {"n": len(values), "p50_ms": interpolated_percentile(values, 50),
           "p95_ms": interpolated_percentile(values, 95), "mean_ms": sum(values) / len(values),
           "min_ms": values[0], "max_ms": values[-1]}
    if cpu_s:
        cpu = sorted(s * 1000 for s in cpu_s)
        out.update(cpu_p50_ms=interpolated_percentile(cpu, 50),
                   cpu_p95_ms=interpolated_percentile(cpu, 95),
                   cpu_mean_ms=sum(cpu) / len(cpu))
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    return a / b if a is not None and b else None


# -- figures in tables ----------------------------------------------------------------------


def fmt(value: float | None, spec: str, unit: str = "") -> str:
    """A figure formatted with `spec` (and a unit), or "-" when it was not measured."""
    return "-" if value is None else f"{value:{spec}}{unit}"
