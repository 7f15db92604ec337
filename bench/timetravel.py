"""Time-travel benchmark: point-in-time casebook reads and a full projection rebuild, each
against its raw peer (reading and decoding the same events from the store) in the same run.

    .venv/bin/python -m bench.timetravel [--store sqlite|postgresql|both] [--participants 1000]
        [--events-per 200] [--reads 500] [--rebuild-events N|all] [--chunk 50]
        [--validate templates|all] [--templates 8] [--workers 2] [--seed 1]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--timeout 900]
        [--repeat 3] [--profile] [--json] [--json-file PATH]

For each store kind, in one run:

1. A fresh store (a temp SQLite file, or `CREATE DATABASE bench_tt_<random>` on --pg-url,
   dropped `WITH (FORCE)` at the end, also on failure), `infra.migrate.upgrade(url)`, and
   the real `TrialLedger` over it.
2. Population through the domain: each participant's course (enrollment, camrelizumab
   infusions, apatinib periods, TACE, CT scans read under RECIST 1.1 and mRECIST, follow-up
   contacts, AEs with an upgrade, a dose interruption and resolution, a mis-keyed dose
   corrected, a duplicate contact voided) is built on a `Participant` aggregate with
   `Participant.enroll` and then appended entry by entry, and saved with one
   `ledger.save(participant)` per participant per round: many events per transaction,
   through the real recorder (hash chain written in the same transaction). The rounds
   interleave participants (shuffled each round, a random 50-150% of --chunk entries
   each), so recorded times of different participants interleave and a random T falls in
   the middle of histories.

   `Participant.record` runs `domain.rules.check_entry`, which deep-copies the whole
   participant for every new entry: O(n) per entry, O(n^2) per history (about 2.5 s of CPU
   for one 200-event history on the reference machine, so 1,000 x 200 would take ~40 CPU
   minutes just to build). So by default (`--validate templates`) each participant's
   history is one of --templates shapes (clinical values drawn per shape; event ids, dates
   offset and site drawn per participant), every shape is first built in full through
   `Participant.record` (in --workers processes) and must pass every rule, and then each
   participant is built with the real `Participant.enroll` (enrollment rules checked) and
   each later entry appended exactly as `Participant.record` does after its rule check
   (same event class, same fields, corrections canonicalised the same way). The rules only
   depend on the order of dates, never their absolute values, so a participant's history
   is valid if and only if its shape's is. `--validate all` runs `Participant.record` for
   every entry of every participant instead (honest to the letter, but O(n^2): use small
   sizes). The output states which mode ran and how long a full `record()` history took.
3. Point-in-time reads: --reads (participant, T) pairs, T uniform between the first and
   the last recorded time, the participant uniform among those enrolled by T (rejection
   sampling). Each timed read is what `GET /participants/{pid}?as_of=T` computes
   (`read_casebook`): `ledger.point_in_time(pid, as_of=T)` (one statement: the version v at
   T, the newest verified snapshot at or below v and the events after it; decode, fold) and
   `casebook(participant, cached=outcome views)`. Population writes the snapshots as any
   save does (services/participant_snapshots.py), so it is slower than before them.
   10 untimed reads first (imports, connection pool, page cache). A second pass over the
   same pairs times the two steps separately, checks each answer against the casebook of a
   full fold from the first event (`repository.get(pid, version=v)`, full derivation: the
   read path before snapshots, timed too), and counts the reads that started from a
   snapshot and used the stored outcome views.
4. Its peers, same pairs: the raw read + decode of the same events,
   `ledger.recorder.select_events(pid, lte=v)` + `ledger.mapper.to_domain_event` for each
   (v = the version at T); and of the whole stream, `select_events(pid)` + decode. The
   point-in-time read and its peers alternate in blocks of 25 pairs (which goes first
   alternates too), so a busy moment of a shared machine falls on both.
5. Current reads (`as_of=None`) of the same participants, as the route computes them (the
   same path as 3, at the stream's last version).
6. Rebuild: `projections.state.rebuild(ledger, engine)` over a whole log, events/s. If the
   main log has more events than --rebuild-events (default 3000), the rebuild runs on a
   separate, smaller store populated the same way (the first ceil(N / --events-per)
   participants of the same workload, full-length histories, same interleaving), and the
   output says so. The rebuilt generation's audit_feed must have one row per event.
7. The rebuild's peer, in the same run and on the same store: every stored event read with
   `LedgerStore(engine).iter_stored()` and decoded with
   `ledger.mapper.to_domain_event(row.as_stored_event())`, events/s. The same raw rate is
   also measured on the main store. Peer and rebuild run alternately --repeat times (3) each;
   the medians are the figures, every run and each pair's ratio are printed beside them.

Ratios: rebuild events/s / raw decode events/s (same events; how many times slower the
projector is than just reading the log), and point-in-time read p50 / peer p50 (same
events, and the whole stream), p95 / p95 against the whole stream (the target: <= 0.5), and
the same in CPU time. Also printed: the snapshots' rows and bytes beside the stored events'.

Prints a table per store, then (with --json) a JSON document with every figure. Exits 1 if
the run hit --timeout, a read returned the wrong version or differed from a full fold, the
store held the wrong number of events, or the rebuild's audit_feed row count did not match.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import (
    DEFAULT_PG_URL,
    BenchTimeout,
    RunDeadline,
    loadavgs,
    log_stamped,
    store_versions,
)
from bench.histories import Workload, populate, validate_shapes
from bench.stores import fresh_store_url, open_ledger, require_loopback
from bench.timetravel_reads import (
    profile_reads,
    recorded_range,
    sample_pairs,
    snapshot_storage,
    timed_reads,
)
from bench.timetravel_rebuild import profile, raw_decode, rebuild_with_peer
from bench.timetravel_report import render

# -- one store kind ---------------------------------------------------------------------------


def bench_store(result: dict[str, Any], args: argparse.Namespace, workload: Workload,
                deadline: RunDeadline, workdir: Path) -> None:
    """Fills `result` as it goes, so a timeout or failure still reports what was measured."""
    kind = result["store"]
    total = workload.participants * workload.events_per
    with fresh_store_url(kind, args.pg_url, "main", workdir) as url:
        opened = open_ledger(url)
        try:
            log_stamped(f"{kind}: populating {workload.participants} x {workload.events_per} events")
            result["population"] = populate(opened, workload, workload.participants,
                                            args.validate == "all", deadline, f"{kind} main")
            lo, hi, enrolled, count = recorded_range(opened.engine)
            result["population"].update(
                recorded_from=lo.isoformat(), recorded_to=hi.isoformat(),
                recorded_span_s=(hi - lo).total_seconds(), stored_events=count)
            if count != total:
                result.setdefault("problems", []).append(
                    f"store holds {count} events, expected {total}")
            log_stamped(f"{kind}: populated in {result['population']['wall_s']:.1f} s; "
                 f"{args.reads} point-in-time reads")
            pairs, rejected = sample_pairs(opened, args.reads, args.seed, lo, hi, enrolled)
            result["reads"] = timed_reads(opened, pairs, deadline, workload.events_per)
            result["reads"]["rejected_samples"] = rejected
            result["snapshot_storage"] = snapshot_storage(opened.engine)
            if result["reads"]["wrong_count"]:
                result.setdefault("problems", []).append(
                    f"{result['reads']['wrong_count']} reads were wrong (their version, or "
                    "not the answer of a full fold)")
            log_stamped(f"{kind}: raw read + decode of the main store ({count} events)")
            result["raw_decode_main"] = raw_decode(opened, deadline)
            rebuild_all = args.rebuild_events is None or args.rebuild_events >= total
            if rebuild_all:
                result["rebuild"] = {"store": "main store (full log)", "events": total}
                rebuild_with_peer(result["rebuild"], opened, deadline, kind, args)
            if args.profile:
                sys.stderr.write(profile(f"{kind}: 50 point-in-time reads",
                                          lambda: profile_reads(opened, pairs[:50])))
        finally:
            opened.close()
    if not rebuild_all:
        n_participants = min(workload.participants,
                             math.ceil(args.rebuild_events / workload.events_per))
        events = n_participants * workload.events_per
        with fresh_store_url(kind, args.pg_url, "rebuild", workdir) as url:
            opened = open_ledger(url)
            try:
                log_stamped(f"{kind}: separate rebuild store, {n_participants} x "
                     f"{workload.events_per} = {events} events")
                result["rebuild"] = {
                    "store": f"SUBSET: a separate store of the first {n_participants} "
                             f"participants x {workload.events_per} events; the main log of "
                             f"{total} events was not rebuilt",
                    "events": events}
                result["rebuild"]["population"] = populate(
                    opened, workload, n_participants, args.validate == "all", deadline,
                    f"{kind} rebuild store")
                rebuild_with_peer(result["rebuild"], opened, deadline, kind, args)
            finally:
                opened.close()
    rebuild_result = result["rebuild"]
    if not rebuild_result["rebuild"]["ok"]:
        result.setdefault("problems", []).append(
            f"rebuild applied {rebuild_result['rebuild']['events']} events and wrote "
            f"{rebuild_result['rebuild']['audit_feed_rows']} audit rows, expected "
            f"{rebuild_result['events']}")


# -- the run ------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.timetravel",
        description="Point-in-time casebook reads and projection rebuild vs raw read+decode.")
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--events-per", type=int, default=200,
                        help="events per participant, enrollment included (default 200)")
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--rebuild-events", default="3000",
                        help="rebuild the main log if it has at most this many events, else a "
                             "separate store of ceil(N / events-per) participants; 'all' = "
                             "always the main log (default 3000)")
    parser.add_argument("--chunk", type=int, default=50,
                        help="mean entries per participant per save round (default 50)")
    parser.add_argument("--validate", choices=("templates", "all"), default="templates")
    parser.add_argument("--templates", type=int, default=8,
                        help="history shapes, each built in full through the rules (default 8)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the template validation (default: CPUs)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rebuild and its peer, alternately, this many times each; the "
                             "medians are reported with every run (default 3)")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed parts, cProfile 50 reads and one more rebuild "
                             "(to stderr)")
    parser.add_argument("--json", action="store_true", help="print a JSON document at the end")
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args(argv)
    if args.rebuild_events == "all":
        args.rebuild_events = None
    else:
        args.rebuild_events = int(args.rebuild_events)
        if args.rebuild_events < 1:
            parser.error("--rebuild-events must be positive or 'all'")
    if args.participants < 1 or args.events_per < 2 or args.reads < 1 or args.chunk < 1:
        parser.error("--participants, --reads, --chunk must be >= 1 and --events-per >= 2")
    if args.templates < 1 or args.repeat < 1:
        parser.error("--templates and --repeat must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    if "postgresql" in kinds:
        require_loopback(args.pg_url)
    deadline = RunDeadline(args.timeout)

    def backstop(_signum: int, _frame: Any) -> None:
        raise BenchTimeout(f"--timeout of {args.timeout:.0f} s reached (hard stop)")

    signal.signal(signal.SIGALRM, backstop)
    signal.alarm(int(args.timeout) + 30)
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "benchmark": "timetravel",
        "argv": sys.argv[1:] if argv is None else list(argv),
        "workload": {"participants": args.participants, "events_per": args.events_per,
                     "events": args.participants * args.events_per, "reads": args.reads,
                     "chunk": args.chunk, "seed": args.seed, "validate": args.validate,
                     "templates": args.templates,
                     "rebuild_events": args.rebuild_events or "all"},
        "versions": store_versions(args.pg_url, kinds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg": loadavgs()},
        "stores": [],
    }
    status = 0
    try:
        if args.validate == "templates":
            shapes = min(args.templates, args.participants)
            log_stamped(f"validating {shapes} history shapes of {args.events_per} events through "
                 f"Participant.record ({args.workers} processes)")
            doc["validation"] = validate_shapes(shapes, args.events_per, args.seed,
                                                args.workers, deadline)
            log_stamped(f"  done in {doc['validation']['wall_s']:.1f} s")
        shapes = args.templates if args.validate == "templates" else args.participants
        log_stamped(f"generating {args.participants} histories")
        workload = Workload.build(args.participants, args.events_per, args.seed, shapes,
                                  args.chunk)
        with tempfile.TemporaryDirectory(prefix="bench-timetravel-") as tmp:
            for kind in kinds:
                result: dict[str, Any] = {"store": kind}
                doc["stores"].append(result)
                try:
                    bench_store(result, args, workload, deadline, Path(tmp))
                except BenchTimeout:
                    raise
                except Exception as error:  # noqa: BLE001 - the other store still runs
                    log_stamped(f"{kind} failed: {type(error).__name__}: {error}")
                    result["error"] = f"{type(error).__name__}: {error}"
                    status = 1
    except BenchTimeout as error:
        doc["timeout"] = str(error)
        log_stamped(str(error))
        status = 1
    finally:
        signal.alarm(0)
    doc["elapsed_s"] = time.perf_counter() - started
    doc["machine"]["loadavg_end"] = loadavgs()
    if any(r.get("problems") for r in doc["stores"]):
        status = 1
    doc["ok"] = status == 0
    print(render(doc))
    if "timeout" in doc:
        print(f"TIMEOUT: {doc['timeout']}")
    text = json.dumps(doc, indent=2, default=str)
    if args.json:
        print(text)
    if args.json_file:
        args.json_file.write_text(text + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
