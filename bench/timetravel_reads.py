"""bench.timetravel's reads: the (participant, T) pairs, the point-in-time casebook read as
`GET /participants/{id}?as_of=T` computes it, timed beside its peers (the raw read and decode
of the same events, and of the whole stream) and checked against a full fold, and the
snapshots' storage beside the stored events'.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Deadline, interpolated_percentile, latency, ratio
from bench.stores import Opened

WARMUP_READS = 10
BLOCK = 25
"""Pairs per block when the point-in-time read and its peers alternate."""


def _as_datetime(value: Any) -> datetime:
    from infra.ledger.chain import parse_recorded_at

    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_recorded_at(str(value))


def recorded_range(engine: Any) -> tuple[datetime, datetime, dict[str, datetime], int]:
    """First and last recorded_at, each stream's enrollment time, and the event count."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        lo, hi, count = conn.execute(sa.text(
            "SELECT min(recorded_at), max(recorded_at), count(*) FROM ledger_chain")).one()
        enrolled = {str(r[0]): _as_datetime(r[1]) for r in conn.execute(sa.text(
            "SELECT stream_id, recorded_at FROM ledger_chain WHERE version = 1"))}
    return _as_datetime(lo), _as_datetime(hi), enrolled, int(count)


@dataclass(frozen=True)
class Pair:
    pid: str
    as_of: str
    version: int


def sample_pairs(opened: Opened, n: int, seed: int, lo: datetime, hi: datetime,
                 enrolled: dict[str, datetime]) -> tuple[list[Pair], int]:
    """(participant, T) with T uniform in [lo, hi], the participant uniform among those
    enrolled by T; the version at T looked up (untimed) for the checks and the peer."""
    from infra.ledger.chain import format_recorded_at

    rng = random.Random(f"timetravel:{seed}:reads")
    pids = sorted(enrolled)
    span = (hi - lo).total_seconds()
    pairs: list[Pair] = []
    rejected = 0
    while len(pairs) < n:
        moment = lo + timedelta(microseconds=round(rng.uniform(0, span) * 1e6))
        pid = rng.choice(pids)
        if enrolled[pid] > moment:
            rejected += 1
            if rejected > 100 * n:
                raise RuntimeError("could not sample (participant, T) pairs")
            continue
        as_of = format_recorded_at(moment)
        version = opened.ledger.store.version_as_of(pid, as_of)
        pairs.append(Pair(pid, as_of, version))
    return pairs, rejected


def read_casebook(ledger: Any, pid: str, as_of: str | None) -> dict[str, Any]:
    """What `GET /participants/{pid}?as_of=T` computes: the participant from its newest
    snapshot at or below the version at T (one store round trip), then the casebook with the
    stored outcome views where they were derived from the same inputs."""
    from services.api.casebook_view import casebook

    loaded = ledger.point_in_time(pid, as_of=as_of)
    return casebook(loaded.aggregate, cached=loaded.outcome)


def timed_reads(opened: Opened, pairs: Sequence[Pair], deadline: Deadline, events_per: int
                ) -> dict[str, Any]:
    from services.api.casebook_view import casebook
    from services.casebook_outcomes import EntryIndex, outcome_key

    ledger = opened.ledger
    repository, store = ledger.repository, ledger.store
    mapper, recorder = ledger.mapper, ledger.recorder
    wrong: list[str] = []

    for pair in pairs[:WARMUP_READS]:  # untimed: imports, pool, page cache
        read_casebook(ledger, pair.pid, pair.as_of)

    # The read and its peers alternate in blocks of BLOCK pairs (which goes first alternates
    # too): each is timed in a loop of its own kind, as the separate passes of earlier runs
    # were, while a busy moment of a shared machine falls on both rather than on one pass.
    pit, pit_cpu = [], []
    peer_same, peer_whole, same_cpu, whole_cpu = [], [], [], []

    def ours(pair: Pair) -> None:
        c0, t0 = time.thread_time(), time.perf_counter()
        book = read_casebook(ledger, pair.pid, pair.as_of)
        pit.append(time.perf_counter() - t0)
        pit_cpu.append(time.thread_time() - c0)
        if book["version"] != pair.version:
            wrong.append(f"{pair.pid}@{pair.as_of}: version {book['version']} != {pair.version}")

    def peers(pair: Pair) -> None:
        c0, t0 = time.thread_time(), time.perf_counter()
        events = [mapper.to_domain_event(s) for s in recorder.select_events(pair.pid,
                                                                            lte=pair.version)]
        c1, t1 = time.thread_time(), time.perf_counter()
        whole = [mapper.to_domain_event(s) for s in recorder.select_events(pair.pid)]
        c2, t2 = time.thread_time(), time.perf_counter()
        peer_same.append(t1 - t0)
        peer_whole.append(t2 - t1)
        same_cpu.append(c1 - c0)
        whole_cpu.append(c2 - c1)
        if len(events) != pair.version or len(whole) != events_per:
            wrong.append(f"peer read {len(events)}/{len(whole)} events of {pair.pid}")

    for block, first in enumerate(range(0, len(pairs), BLOCK)):
        these = pairs[first:first + BLOCK]
        for measure in ((ours, peers) if block % 2 == 0 else (peers, ours)):
            for pair in these:
                measure(pair)
        deadline.check("point-in-time reads and their peers")

    steps: dict[str, list[float]] = {"load": [], "casebook": [], "legacy": []}
    folded, started, hits = [], [], 0
    for k, pair in enumerate(pairs):
        t0 = time.perf_counter()
        loaded = ledger.point_in_time(pair.pid, as_of=pair.as_of)
        t1 = time.perf_counter()
        book = casebook(loaded.aggregate, cached=loaded.outcome)
        t2 = time.perf_counter()
        legacy = casebook(repository.get(pair.pid, version=store.version_as_of(pair.pid,
                                                                                pair.as_of)))
        t3 = time.perf_counter()
        steps["load"].append(t1 - t0)
        steps["casebook"].append(t2 - t1)
        steps["legacy"].append(t3 - t2)
        folded.append(loaded.folded)
        started.append(loaded.snapshot_version)
        outcome = loaded.outcome
        hits += bool(outcome and outcome.key == outcome_key(EntryIndex(loaded.aggregate)))
        if book != legacy:
            wrong.append(f"{pair.pid}@{pair.as_of}: the snapshot read differs from a full fold")
        if k % 50 == 0:
            deadline.check("point-in-time read breakdown")

    current = []
    for k, pair in enumerate(pairs):
        t0 = time.perf_counter()
        book = read_casebook(ledger, pair.pid, None)
        current.append(time.perf_counter() - t0)
        if book["version"] != events_per:
            wrong.append(f"{pair.pid} now: version {book['version']} != {events_per}")
        if k % 50 == 0:
            deadline.check("current reads")

    versions = sorted(p.version for p in pairs)
    pit_stats = latency(pit, pit_cpu)
    same_stats, whole_stats = latency(peer_same, same_cpu), latency(peer_whole, whole_cpu)
    return {
        "pairs": len(pairs),
        "version_read": {"min": versions[0], "p50": interpolated_percentile(versions, 50),
                         "mean": sum(versions) / len(versions), "max": versions[-1]},
        "point_in_time": pit_stats,
        "point_in_time_steps": {name: latency(v) for name, v in steps.items()},
        "snapshots": {"outcome_views_used": hits, "reads": len(pairs),
                      "events_folded_mean": sum(folded) / len(folded),
                      "events_folded_max": max(folded),
                      "started_from_snapshot": sum(1 for v in started if v)},
        "peer_same_events": same_stats,
        "peer_whole_stream": whole_stats,
        "current": latency(current),
        "ratio_pit_p50_over_peer_same_p50": ratio(pit_stats["p50_ms"], same_stats["p50_ms"]),
        "ratio_pit_p50_over_peer_whole_p50": ratio(pit_stats["p50_ms"],
                                                    whole_stats["p50_ms"]),
        "ratio_pit_p95_over_peer_whole_p95": ratio(pit_stats["p95_ms"],
                                                    whole_stats["p95_ms"]),
        "ratio_pit_cpu_p95_over_peer_whole_cpu_p95": ratio(pit_stats.get("cpu_p95_ms"),
                                                            whole_stats.get("cpu_p95_ms")),
        "wrong": wrong[:20],
        "wrong_count": len(wrong),
    }


def snapshot_storage(engine: Any) -> dict[str, Any]:
    """Rows and bytes of the snapshots, beside the stored events' bytes."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        kinds = {str(kind): {"rows": int(rows), "bytes": int(size or 0)}
                 for kind, rows, size in conn.execute(sa.text(
                     "SELECT kind, count(*), sum(length(payload)) FROM participant_snapshots "
                     "GROUP BY kind"))}
        events = int(conn.execute(sa.text(
            "SELECT sum(length(state)) FROM stored_events")).scalar() or 0)
    return {"by_kind": kinds, "stored_event_bytes": events}


def profile_reads(opened: Opened, pairs: Sequence[Pair]) -> None:
    for pair in pairs:
        read_casebook(opened.ledger, pair.pid, pair.as_of)
