"""Timed phases on threads, for the benches that drive many concurrent writers (bench.ingest
and its peer): every worker opens its connection first and the clock starts only when all of
them are ready; each job's latency and outcome is kept, and the deadline stops the workers
from taking new jobs.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.harness import BenchFailure, Deadline, percentile_ms

REQUEST_TIMEOUT_S = 60.0
MAX_ERROR_SAMPLES = 5


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
            "p50": percentile_ms(times, 50),
            "p95": percentile_ms(times, 95),
            "p99": percentile_ms(times, 99),
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

