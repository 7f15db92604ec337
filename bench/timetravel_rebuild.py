"""bench.timetravel's rebuild: `projections.state.rebuild` over a whole log, timed beside its
peer (every stored event read in position order and decoded, nothing else) on the same store,
the two alternating --repeat times; and the cProfile output of --profile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.harness import Deadline, log_stamped, ratio
from bench.stores import Opened


def raw_decode(opened: Opened, deadline: Deadline) -> dict[str, Any]:
    """The peer: every stored event read in position order and decoded, nothing else."""
    from infra.ledger.store import LedgerStore

    mapper = opened.ledger.mapper
    count = 0
    cpu0, started = time.process_time(), time.perf_counter()
    for row in LedgerStore(opened.engine).iter_stored():
        mapper.to_domain_event(row.as_stored_event())
        count += 1
        if count % 5000 == 0:
            deadline.check("raw read + decode")
    seconds = time.perf_counter() - started
    return {"events": count, "seconds": seconds, "events_per_s": count / seconds,
            "cpu_s": time.process_time() - cpu0}


def timed_rebuild(opened: Opened, deadline: Deadline, expected: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from projections.state import rebuild
    from projections.tables import audit_feed

    applied = 0
    cpu0, started = time.process_time(), time.perf_counter()
    last_log = started

    def progress(n: int) -> None:
        nonlocal applied, last_log
        applied += n
        now = time.perf_counter()
        if now - last_log > 15:
            last_log = now
            log_stamped(f"  rebuild: {applied}/{expected} events, "
                 f"{applied / (now - started):.0f} events/s")
        deadline.check(f"rebuild ({applied}/{expected} events applied)")

    generation = rebuild(opened.ledger, opened.engine, progress=progress)
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu0
    with opened.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(audit_feed).where(
            audit_feed.c.generation == generation)).scalar()
    return {"events": applied, "seconds": seconds, "events_per_s": applied / seconds,
            "cpu_s": cpu_s, "generation": generation, "audit_feed_rows": int(rows or 0),
            "ok": applied == expected and int(rows or 0) == expected}


def profile(label: str, func: Callable[[], Any], top: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        func()
    finally:
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return f"==== profile: {label} ====\n{out.getvalue()}"


def rebuild_with_peer(out: dict[str, Any], opened: Opened, deadline: Deadline, kind: str,
                       args: argparse.Namespace) -> None:
    """Peer and rebuild alternately, --repeat times each, on the same store: the figures are
    the medians, with every run and the spread of the per-pair ratios kept."""
    events = out["events"]
    peers, rebuilds, ratios = [], [], []
    for run in range(1, args.repeat + 1):
        log_stamped(f"{kind}: peer raw read + decode of the rebuild's {events} events ({run}/"
             f"{args.repeat})")
        peers.append(raw_decode(opened, deadline))
        log_stamped(f"{kind}: rebuild of {events} events ({run}/{args.repeat})")
        rebuilds.append(timed_rebuild(opened, deadline, events))
        ratios.append(ratio(rebuilds[-1]["events_per_s"], peers[-1]["events_per_s"]))
    out["peer_raw_decode"] = peer = _median_run(peers)
    out["rebuild"] = rebuilt = _median_run(rebuilds)
    rebuilt["ok"] = all(r["ok"] for r in rebuilds)
    out["ratio_rebuild_over_raw_decode"] = ratio(rebuilt["events_per_s"],
                                                  peer["events_per_s"])
    out["ratio_rebuild_over_raw_decode_runs"] = ratios
    out["ratio_rebuild_over_raw_decode_cpu"] = ratio(peer["cpu_s"], rebuilt["cpu_s"])
    log_stamped(f"{kind}: rebuild {rebuilt['events_per_s']:.0f} events/s, raw decode "
         f"{peer['events_per_s']:.0f} events/s (medians of {args.repeat})")
    if args.profile:
        sys.stderr.write(profile(f"{kind}: one more rebuild of {events} events",
                                  lambda: timed_rebuild(opened, deadline, events)))
        sys.stderr.write(profile(f"{kind}: one more peer read + decode of {events} events",
                                  lambda: raw_decode(opened, deadline)))


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, with every run's events/s beside it."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs_events_per_s"] = [round(r["events_per_s"]) for r in runs]
    return median
