"""Where a full projection rebuild spends its time: the real rebuild with its parts switched
off one at a time, each against its peer (raw read + decode of the same events) in the same
run.

    .venv/bin/python -m bench.rebuild_parts [--store sqlite|postgresql|both]
        [--participants 100] [--events-per 200] [--repeat 3]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--timeout 1800]
        [--json-file PATH]

The target for `projections.state.rebuild` is 0.7 of the raw read + decode rate of the same
log. This benchmark says which parts of the rebuild keep it from that, and what the rebuild
cannot go below. Per store kind, a fresh store (bench/stores.py's `fresh_store_url`: a temp
SQLite file, or a temp PostgreSQL database dropped at the end) is populated with
bench.timetravel's workload (bench/histories.py: histories of `Participant` aggregates saved
in interleaved rounds), then each variant below alternates with the peer
(`bench.timetravel_rebuild.raw_decode`: `LedgerStore.iter_stored` + `mapper.to_domain_event`)
--repeat times. The variants switch
parts off cumulatively, by replacing module attributes of `projections.runner` in this process
only, restored after each variant:

1. full: `projections.state.rebuild(ledger, engine)`, as deployed;
2. without outcome facts: `carry` returns a constant `Carried` (the outcome rows are still
   written, with constant values);
3. also without response timelines: `rows.TIMELINE_TYPES` empty;
4. also without writes: `_BatchRows.write` does nothing (the claim and the generation switch
   still run);
5. decode + fold only: the peer's read and decode, plus `event.mutate(state)` onto each
   stream's state kept in a dict, no rows at all: the projector's floor;
5b. 5 read as the projector reads (`LedgerStore.events_page` pages of `REBUILD_BATCH`: driver
   tuples, each stored event joined to its chain row);
6. 5b plus the audit row (`rows.audit_values`) of every event.

Variants 1-4 switch to a new generation and delete the old one, as every rebuild does; 5-6
write nothing. Ratio = peer seconds / variant seconds (variant events/s over peer events/s, same
events) of the medians, each pair's in brackets. CPU time is this process' (SQLite: includes
the database; PostgreSQL: excludes the server). A full garbage collection precedes every timed
run. Exits 1 on a timeout, a failed store, or a rebuild that wrote the wrong number of rows.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.harness import DEFAULT_PG_URL, BenchTimeout, RunDeadline, log_stamped
from bench.histories import Workload, populate
from bench.stores import Opened, fresh_store_url, open_ledger
from bench.timetravel_rebuild import raw_decode, timed_rebuild

SEED, SHAPES, CHUNK = 1, 8, 50
"""bench.timetravel's defaults: the same histories and save rounds."""


def _stub_carry(before: Any, participant: Any, event_type: str, event_id: str) -> Any:
    from projections.outcome_projection import Carried

    return Carried(participant.version, None, {},  # type: ignore[arg-type]
                   ("S01", "2025-01-01", "2025-01-01", "{}", "{}", "{}", "[]",
                    participant.version, "x"))


def _patches(level: int) -> list[tuple[Any, str, Any]]:
    """(object, attribute, replacement) switching off the first `level` parts."""
    from projections import rows as projection_rows
    from projections import runner

    parts = [(runner, "carry", _stub_carry),
             (projection_rows, "TIMELINE_TYPES", frozenset()),
             (runner._BatchRows, "write", lambda self, conn: None)]
    return parts[:level]


@contextlib.contextmanager
def patched(patches: list[tuple[Any, str, Any]]) -> Iterator[None]:
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


def _timed(count_events: Callable[[], int]) -> dict[str, Any]:
    cpu0, started = time.process_time(), time.perf_counter()
    events = count_events()
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds,
            "cpu_s": time.process_time() - cpu0}


def decode_fold(opened: Opened, deadline: RunDeadline) -> dict[str, Any]:
    """Variant 5: every event decoded and folded onto its stream's state, nothing derived."""
    from infra.ledger.store import LedgerStore

    def run() -> int:
        to_domain_event = opened.ledger.mapper.to_domain_event
        states: dict[str, Any] = {}
        count = 0
        for row in LedgerStore(opened.engine).iter_stored():
            event = to_domain_event(row.as_stored_event())
            states[row.stream_id] = event.mutate(states.get(row.stream_id))
            count += 1
            if count % 5000 == 0:
                deadline.check("decode + fold")
        return count

    return _timed(run)


def paged_fold(opened: Opened, deadline: RunDeadline, audit: bool) -> dict[str, Any]:
    """Variants 5b and 6: the projector's joined pages (driver tuples), decode, fold, and with
    `audit` the audit row of every event (kept per page, as a batch keeps them)."""
    from eventsourcing.persistence import StoredEvent

    from infra.ledger.store import LedgerStore
    from projections.rows import audit_values
    from projections.runner import _as_bytes, _recorded_at
    from projections.state import REBUILD_BATCH

    def run() -> int:
        to_domain_event = opened.ledger.mapper.to_domain_event
        store = LedgerStore(opened.engine)
        states: dict[str, Any] = {}
        after = count = 0
        while True:
            with opened.engine.connect() as conn:
                page = store.events_page(conn, after, REBUILD_BATCH)
            if not page:
                return count
            rows = []
            for position, stream, version, topic, state, chain_stream, recorded_at in page:
                stream_id = str(stream)
                event = to_domain_event(
                    StoredEvent(stream_id, int(version), str(topic), _as_bytes(state)))
                before = states.get(stream_id)
                if audit:
                    rows.append(audit_values(event, position, chain_stream,
                                             _recorded_at(recorded_at), before))
                states[stream_id] = event.mutate(before)
            count += len(page)
            after = page[-1][0]
            deadline.check("paged decode + fold")

    return _timed(run)


VARIANTS: list[tuple[str, str]] = [
    ("full", "1. projections.state.rebuild, full"),
    ("no_outcomes", "2. without outcome facts (carry stubbed)"),
    ("no_timelines", "3. also without response timelines"),
    ("no_writes", "4. also without writes (derive, claim, switch)"),
    ("decode_fold", "5. decode + fold only (iter_stored; no rows)"),
    ("paged_fold", "5b. decode + fold, read as the projector reads (events_page)"),
    ("paged_fold_audit", "6. 5b + audit rows (rows.audit_values)"),
]


def run_variant(key: str, opened: Opened, deadline: RunDeadline, events: int
                ) -> dict[str, Any]:
    if key == "decode_fold":
        return decode_fold(opened, deadline)
    if key.startswith("paged_fold"):
        return paged_fold(opened, deadline, audit=key.endswith("audit"))
    level = [k for k, _ in VARIANTS].index(key)
    with patched(_patches(level)):
        result = timed_rebuild(opened, deadline, events)
    result["ok"] = result["events"] == events and result["audit_feed_rows"] == (
        0 if key == "no_writes" else events)
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    values = sorted(float(r[key]) for r in runs)
    return values[(len(values) - 1) // 2]


def bench_store(kind: str, args: argparse.Namespace, workload: Workload,
                deadline: RunDeadline, workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"store": kind, "variants": {}}
    with fresh_store_url(kind, args.pg_url, "parts", workdir) as url:
        opened = open_ledger(url)
        try:
            result["population"] = populate(opened, workload, workload.participants,
                                               False, deadline, f"{kind} store")
            events = raw_decode(opened, deadline)["events"]  # untimed: warms caches
            result["events"] = events
            for key, _label in VARIANTS:
                peers, runs = [], []
                for run in range(args.repeat):
                    log_stamped(f"{kind}: {key} ({run + 1}/{args.repeat})")
                    for step in ("variant", "peer") if run % 2 else ("peer", "variant"):
                        gc.collect()
                        if step == "peer":
                            peers.append(raw_decode(opened, deadline))
                        else:
                            runs.append(run_variant(key, opened, deadline, events))
                out: dict[str, Any] = {"runs": runs, "peers": peers,
                       "seconds": _median(runs, "seconds"), "cpu_s": _median(runs, "cpu_s"),
                       "peer_seconds": _median(peers, "seconds"),
                       "peer_cpu_s": _median(peers, "cpu_s"),
                       "pair_ratios": [p["seconds"] / r["seconds"] for p, r in zip(peers, runs)],
                       "ok": all(r.get("ok", r["events"] == events) for r in runs)}
                out["ratio"] = out["peer_seconds"] / out["seconds"]
                out["cpu_ratio"] = out["peer_cpu_s"] / out["cpu_s"]
                result["variants"][key] = out
                if not out["ok"]:
                    result.setdefault("problems", []).append(f"{key}: wrong event or row count")
        finally:
            opened.close()
    return result


def render(doc: dict[str, Any]) -> str:
    w = doc["workload"]
    lines = [(f"rebuild parts: {w['participants']} participants x {w['events_per']} events, "
              f"medians of {w['repeat']} alternating pairs")]
    for r in doc["stores"]:
        lines += ["", f"== {r['store']}" + (f"  FAILED: {r['error']}" if "error" in r else "")]
        if not r.get("variants"):
            continue
        lines += [("| variant | events/s | µs/event | peer events/s | ratio (each pair) "
                   "| CPU ratio |"), "|---|---:|---:|---:|---|---:|"]
        for key, label in VARIANTS:
            v = r["variants"].get(key)
            if v is None:
                continue
            pairs = " / ".join(f"{x:.2f}" for x in v["pair_ratios"])
            lines.append(f"| {label} | {r['events'] / v['seconds']:,.0f} "
                         f"| {1e6 * v['seconds'] / r['events']:.1f} "
                         f"| {r['events'] / v['peer_seconds']:,.0f} "
                         f"| {v['ratio']:.3f} ({pairs}) | {v['cpu_ratio']:.3f} |")
        for problem in r.get("problems", []):
            lines.append(f"PROBLEM: {problem}")
    m = doc["machine"]
    lines += ["", (f"machine: {m['cpus']} CPUs, python {m['python']}, load "
                   f"{' '.join(f'{x:.2f}' for x in m['loadavg'])} -> "
                   f"{' '.join(f'{x:.2f}' for x in m['loadavg_end'])}; {doc['elapsed_s']:.0f} s")]
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild_parts",
                                     description="Where a projection rebuild spends its time.")
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--events-per", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args(argv)
    if args.participants < 1 or args.events_per < 2 or args.repeat < 1:
        parser.error("--participants and --repeat must be >= 1, --events-per >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    deadline = RunDeadline(args.timeout)
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "benchmark": "rebuild_parts",
        "workload": {"participants": args.participants, "events_per": args.events_per,
                     "repeat": args.repeat, "seed": SEED},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg": os.getloadavg()},
        "stores": []}
    status = 0
    workload = Workload.build(args.participants, args.events_per, SEED,
                                 min(SHAPES, args.participants), CHUNK)
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-parts-") as tmp:
        for kind in kinds:
            try:
                doc["stores"].append(bench_store(kind, args, workload, deadline, Path(tmp)))
            except BenchTimeout as error:
                doc["stores"].append({"store": kind, "error": str(error)})
                status = 1
                break
            except Exception as error:  # noqa: BLE001 - the other store still runs
                error_text = f"{type(error).__name__}: {error}"
                doc["stores"].append({"store": kind, "error": error_text})
                status = 1
    doc["elapsed_s"] = time.perf_counter() - started
    doc["machine"]["loadavg_end"] = os.getloadavg()
    if any(r.get("problems") for r in doc["stores"]):
        status = 1
    print(render(doc))
    if args.json_file:
        args.json_file.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
