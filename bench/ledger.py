"""Verifiable-ledger benchmark: chain verify, Merkle sync, checkpoints and proofs at 100k events,
against a raw SHA-256 chain loop over the same stored bytes in the same run.

    .venv/bin/python -m bench.ledger [--store sqlite|postgresql|both] [--events 100000]
        [--batch 1000] [--proofs 2000] [--lookups 20] [--repeat 3]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--json] [--json-file PATH]

For each store kind, on a fresh store (a temp SQLite file, or `CREATE DATABASE bench_<random>`
dropped afterwards): N events of ~450 bytes (DoseAdministered-shaped JSON, 500 streams) are
appended through the real chained recorder in batches (not timed as a figure of merit), then:

* ours: `verify_ledger` (the full chain recomputed from the stored bytes), the first Merkle
  `sync()` over all N leaves, an incremental sync + signed checkpoint after one more batch, a
  checkpoint of an unchanged tree, `verify_against_checkpoint` (re-derives every leaf from the
  stored events, checks the signature and the consistency proof), inclusion and consistency
  proofs from the stored nodes (one store round trip each, as the API does), and event_id
  look-ups (a scan of the stored bytes, as GET /proofs/inclusion does).
* peers: a bare Python loop `h = sha256(h + state)` over every stored event's bytes, fed two
  ways: (1) the same fetch as `verify_ledger` (one connection, keyset pages of the chain rows
  and of the stored events as driver tuples, `verify.PAGE` rows each; the loop hashes the
  stored bytes and checks nothing), the fair peer of `verify_ledger`; (2) the `state` column
  alone in keyset pages of 5,000 through SQLAlchemy. Also the loop alone over bytes in memory,
  and the Merkle root recomputed from scratch in memory (what each request would cost without
  stored nodes). The two peers and `verify_ledger` run alternately --repeat times (3): the
  figures are the medians, each run is printed.

Prints a table per store with ratios ours/peer; exit 1 if any check fails.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from bench.harness import DEFAULT_PG_URL, log_stamped
from bench.stores import fresh_store
from infra.db import create_engine
from infra.ledger import merkle, proofs, verify
from infra.ledger.checkpoints import (
    configured_public_key,
    current_checkpoint,
    issue_checkpoint,
    verify_against_checkpoint,
)
from infra.ledger.merkle_store import MerkleStore
from infra.ledger.verify import verify_ledger
from infra.migrate import upgrade
from infra.settings import Settings

STREAMS = 500
PAGE = 5000


# -- the store and its data -----------------------------------------------------------------


class Workload:
    """DoseAdministered-shaped events spread over STREAMS participants, deterministic."""

    def __init__(self, seed: int = 2026) -> None:
        self.random = random.Random(seed)
        self.versions = [0] * STREAMS
        self.event_ids: list[str] = []

    def batch(self, size: int) -> list[StoredEvent]:
        events = []
        for _ in range(size):
            stream = self.random.randrange(STREAMS)
            self.versions[stream] += 1
            event_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
            self.event_ids.append(event_id)
            state = {
                "timestamp": {"_type_": "datetime_iso",
                              "_data_": "2026-03-01T10:00:00.000000+00:00"},
                "event_id": event_id, "actor": f"coord{stream % 7}",
                "role": "site_coordinator", "site_id": f"S0{stream % 4 + 1}", "reason": None,
                "client_request_id": uuid.UUID(int=self.random.getrandbits(128)).hex,
                "occurred_on": "2026-03-01",
                "data": {"drug": "camrelizumab", "dose_mg": 200.0, "route": "IV",
                         "cycle": self.versions[stream], "end_on": None},
                "originator_topic": "domain.participant:Participant",
            }
            events.append(StoredEvent(f"HCC-{stream // 100:02d}-{stream:03d}",
                                      self.versions[stream],
                                      "domain.participant:Participant.DoseAdministered",
                                      json.dumps(state, separators=(",", ":")).encode()))
        return events


def load(ledger: Any, workload: Workload, events: int, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, events, batch):
        ledger.recorder.insert_events(workload.batch(min(batch, events - start)))
    return time.perf_counter() - started


# -- timing ---------------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def median_ms(samples: Sequence[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


# -- the peer -------------------------------------------------------------------------------


def stored_states(engine: sa.Engine) -> Iterator[bytes]:
    """Every stored event's bytes in position order, in the same keyset pages ours uses."""
    column = "notification_id" if engine.dialect.name == "postgresql" else "rowid"
    statement = sa.text(f"SELECT {column} AS position, state FROM stored_events "
                        f"WHERE {column} > :after ORDER BY {column} LIMIT :limit")
    after = -1
    while True:
        with engine.connect() as conn:
            rows = conn.execute(statement, {"after": after, "limit": PAGE}).all()
        if not rows:
            return
        for row in rows:
            yield bytes(row.state)
        after = rows[-1].position


def same_fetch_states(store: Any) -> Iterator[bytes]:
    """The rows `verify_ledger` reads, fetched the same way (one connection, keyset pages of
    chain rows and stored events as driver tuples, `verify.PAGE` rows each): the stored bytes
    of each event, nothing checked."""
    leaf_after = position_after = -1
    with store.engine.connect() as conn:
        while True:
            chain = store.chain_page(conn, leaf_after, verify.PAGE)
            stored = store.stored_page(conn, position_after, verify.PAGE)
            if not chain and not stored:
                return
            for row in stored:
                yield row[4]
            leaf_after = chain[-1][0] if chain else leaf_after
            position_after = stored[-1][0] if stored else position_after


def peer_chain(states: Iterator[bytes]) -> tuple[int, bytes]:
    """The bare loop: h = SHA-256(h || state)."""
    digest, count = bytes(32), 0
    sha256 = hashlib.sha256
    for state in states:
        digest = sha256(digest + state).digest()
        count += 1
    return count, digest


# -- one store ------------------------------------------------------------------------------


def bench_store(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    problems: list[str] = []
    with fresh_store(kind, args.pg_url, "ledger", workdir) as store:
        url = store["url"]
        upgrade(url)
        settings = Settings(database_url=url, secrets_dir=workdir / f"secrets-{kind}",
                            jwt_secret=secrets.token_urlsafe(40))
        engine = create_engine(settings.database)
        from services.application import TrialLedger

        ledger = TrialLedger(settings, engine)
        try:
            workload = Workload()
            log_stamped(f"{kind}: appending {args.events} events in batches of {args.batch}")
            load_s = load(ledger, workload, args.events, args.batch)
            result = _measure(kind, args, engine, ledger, workload, settings, problems)
            result["load"] = {"seconds": round(load_s, 2),
                              "events_per_second": rate(args.events, load_s)}
        finally:
            ledger.close()
            engine.dispose()
    result["problems"] = problems
    return result


def _measure(kind: str, args: argparse.Namespace, engine: sa.Engine, ledger: Any,
             workload: Workload, settings: Settings, problems: list[str]) -> dict[str, Any]:
    n = args.events
    store = ledger.store
    runs: dict[str, list[float]] = {"peer": [], "same": [], "verify": []}
    for run in range(1, args.repeat + 1):
        log_stamped(f"{kind}: peer chain loops and verify_ledger ({run}/{args.repeat})")
        seconds, (peer_count, _) = timed(lambda: peer_chain(stored_states(engine)))
        runs["peer"].append(seconds)
        seconds, (same_count, _) = timed(lambda: peer_chain(same_fetch_states(store)))
        runs["same"].append(seconds)
        seconds, report = timed(lambda: verify_ledger(store))
        runs["verify"].append(seconds)
        if not report.ok or report.events != n or peer_count != n or same_count != n:
            problems.append(f"verify_ledger: {report.as_dict()}, peers saw {peer_count} and "
                            f"{same_count}")
    peer_s, same_s, verify_s = (statistics.median(runs[k]) for k in ("peer", "same", "verify"))
    states = list(stored_states(engine))
    loop_s, _ = timed(lambda: peer_chain(iter(states)))
    states.clear()
    tree = MerkleStore(engine)
    log_stamped(f"{kind}: first Merkle sync")
    sync_s, size = timed(tree.sync)
    if size != n:
        problems.append(f"sync reached {size}, not {n}")
    leaves = [hash_ for _, hash_ in tree.leaves()]
    rebuild_s, rebuilt_root = timed(lambda: merkle.root(leaves))
    cold_s, checkpoint = timed(lambda: issue_checkpoint(engine, settings))
    if checkpoint.root_hash != rebuilt_root:
        problems.append("the checkpoint's root differs from the in-memory root")
    unchanged = [timed(lambda: current_checkpoint(engine, settings))[0] for _ in range(5)]
    signing = [timed(lambda: issue_checkpoint(engine, settings))[0] for _ in range(5)]
    ledger.recorder.insert_events(workload.batch(100))
    grown_s, grown = timed(lambda: issue_checkpoint(engine, settings))
    if grown.tree_size != n + 100:
        problems.append(f"grown checkpoint has size {grown.tree_size}")
    log_stamped(f"{kind}: verify_against_checkpoint")
    full_s, checked = timed(lambda: verify_against_checkpoint(
        store, checkpoint.as_dict(), public_key=configured_public_key(settings),
        expected_origin=settings.ledger_origin))
    if not checked.ok:
        problems.append(f"verify_against_checkpoint: {checked.problem}")
    log_stamped(f"{kind}: {args.proofs} inclusion and consistency proofs")
    pick = random.Random(7)
    indexes = [pick.randrange(n) for _ in range(args.proofs)]
    inclusion_s, paths = timed(lambda: [tree.inclusion_proof(i, n) for i in indexes])
    firsts = [pick.randrange(1, n + 1) for _ in range(args.proofs)]
    consistency_s, consistency = timed(lambda: [tree.consistency_proof(m, n) for m in firsts])
    roots = {m: merkle.root(leaves[:m]) for m in firsts[:5]}
    if not all(proofs.verify_inclusion(leaves[i], i, n, p, rebuilt_root)
               for i, p in zip(indexes, paths, strict=True)):
        problems.append("an inclusion proof did not verify")
    if not all(proofs.verify_consistency(m, n, roots[m], rebuilt_root, p)
               for m, p in zip(firsts[:5], consistency[:5], strict=True)):
        problems.append("a consistency proof did not verify")
    log_stamped(f"{kind}: event_id look-ups")
    lookups = []
    for event_id in pick.sample(workload.event_ids[:n], args.lookups):
        seconds, found = timed(functools.partial(tree.find_event, event_id))
        lookups.append(seconds)
        if found is None:
            problems.append(f"event {event_id} not found")
    with engine.connect() as conn:
        nodes = conn.execute(sa.text("SELECT count(*) FROM merkle_nodes")).scalar_one()
    peer_rate = rate(n, peer_s)
    same_rate = rate(n, same_s)
    ours_verify = rate(n, verify_s)
    ours_full = rate(n, full_s)
    inclusion_rate = rate(args.proofs, inclusion_s)
    return {
        "events": n,
        "peer": {"chain_loop_with_reads_seconds": round(peer_s, 3),
                 "chain_loop_with_reads_events_per_second": peer_rate,
                 "chain_loop_in_memory_events_per_second": rate(n, loop_s),
                 "same_fetch_chain_loop_seconds": round(same_s, 3),
                 "same_fetch_chain_loop_events_per_second": same_rate,
                 "merkle_root_from_scratch_in_memory_ms": round(rebuild_s * 1000, 1)},
        "verify_ledger": {"seconds": round(verify_s, 3), "events_per_second": ours_verify,
                          "runs_seconds": [round(x, 3) for x in runs["verify"]]},
        "runs_seconds": {"peer_state_column_only": [round(x, 3) for x in runs["peer"]],
                         "peer_same_fetch": [round(x, 3) for x in runs["same"]]},
        "verify_against_checkpoint": {"seconds": round(full_s, 3),
                                      "events_per_second": ours_full},
        "merkle_sync_first": {"seconds": round(sync_s, 3), "leaves_per_second": rate(n, sync_s),
                              "nodes_stored": nodes},
        "checkpoint_ms": {"first_after_sync": round(cold_s * 1000, 1),
                          "unchanged_log_median": median_ms(unchanged),
                          "new_signature_median": median_ms(signing),
                          "after_100_more_events": round(grown_s * 1000, 1)},
        "inclusion_proofs_per_second": inclusion_rate,
        "consistency_proofs_per_second": rate(args.proofs, consistency_s),
        "event_id_lookup_ms_median": median_ms(lookups),
        "ratios": {
            "verify_ledger_vs_peer": round(ours_verify / peer_rate, 3),
            "verify_ledger_vs_same_fetch_peer": round(ours_verify / same_rate, 3),
            "verify_ledger_vs_same_fetch_peer_runs": [
                round(same / ours, 3) for same, ours in zip(runs["same"], runs["verify"],
                                                            strict=True)],
            "verify_against_checkpoint_vs_peer": round(ours_full / peer_rate, 3),
            "verify_against_checkpoint_vs_same_fetch_peer": round(ours_full / same_rate, 3),
            "checkpoint_after_100_events_vs_peer_full_loop": round(grown_s / peer_s, 4),
            "inclusion_proof_vs_root_from_scratch": round(
                (1 / inclusion_rate) / rebuild_s, 5) if inclusion_rate else None,
        },
    }


# -- output ---------------------------------------------------------------------------------


def print_table(kind: str, r: dict[str, Any]) -> None:
    peer, ratio = r["peer"], r["ratios"]
    rows = [
        ("events", f"{r['events']:,}", ""),
        ("load (recorder batches, not a figure of merit)",
         f"{r['load']['events_per_second']:,.0f} ev/s", f"{r['load']['seconds']} s"),
        ("PEER sha256 chain loop, state column only",
         f"{peer['chain_loop_with_reads_events_per_second']:,.0f} ev/s",
         f"{peer['chain_loop_with_reads_seconds']} s"),
        ("PEER sha256 chain loop, same fetch as verify_ledger",
         f"{peer['same_fetch_chain_loop_events_per_second']:,.0f} ev/s",
         f"{peer['same_fetch_chain_loop_seconds']} s"),
        ("PEER sha256 chain loop, bytes in memory",
         f"{peer['chain_loop_in_memory_events_per_second']:,.0f} ev/s", ""),
        ("ours verify_ledger (chain)", f"{r['verify_ledger']['events_per_second']:,.0f} ev/s",
         (f"x{ratio['verify_ledger_vs_same_fetch_peer']} of same-fetch peer, "
         f"x{ratio['verify_ledger_vs_peer']} of state-only peer")),
        ("  verify_ledger / same-fetch peer, each run", "",
         " ".join(f"x{x}" for x in ratio["verify_ledger_vs_same_fetch_peer_runs"])),
        ("ours verify --checkpoint (leaves re-derived)",
         f"{r['verify_against_checkpoint']['events_per_second']:,.0f} ev/s",
         (f"x{ratio['verify_against_checkpoint_vs_same_fetch_peer']} of same-fetch peer, "
         f"x{ratio['verify_against_checkpoint_vs_peer']} of state-only peer")),
        ("ours first Merkle sync", f"{r['merkle_sync_first']['seconds']} s",
         (f"{r['merkle_sync_first']['leaves_per_second']:,.0f} leaves/s, "
         f"{r['merkle_sync_first']['nodes_stored']:,} nodes")),
        ("ours checkpoint: first after sync", f"{r['checkpoint_ms']['first_after_sync']} ms", ""),
        ("ours checkpoint: +100 events (sync + sign)",
         f"{r['checkpoint_ms']['after_100_more_events']} ms",
         f"x{ratio['checkpoint_after_100_events_vs_peer_full_loop']} of one peer loop"),
        ("ours checkpoint: new signature, same tree",
         f"{r['checkpoint_ms']['new_signature_median']} ms", "median of 5"),
        ("ours checkpoint: latest, log unchanged",
         f"{r['checkpoint_ms']['unchanged_log_median']} ms", "median of 5"),
        ("ours inclusion proofs", f"{r['inclusion_proofs_per_second']:,.0f} /s",
         (f"x{ratio['inclusion_proof_vs_root_from_scratch']} of a root from scratch "
         f"({peer['merkle_root_from_scratch_in_memory_ms']} ms)")),
        ("ours consistency proofs", f"{r['consistency_proofs_per_second']:,.0f} /s", ""),
        ("ours event_id look-up (byte scan)", f"{r['event_id_lookup_ms_median']} ms", "median"),
    ]
    print(f"\n{kind}")
    for name, value, note in rows:
        print(f"  {name:<48} {value:>16}  {note}")
    for problem in r["problems"]:
        print(f"  PROBLEM: {problem}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3,
                        help="the chain loops and verify_ledger, alternately, this many times "
                             "each; medians are reported with every run (default 3)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args(argv)
    if args.events < 2 or args.proofs < 1 or args.lookups < 1 or args.repeat < 1:
        parser.error("--events must be at least 2, --proofs, --lookups and --repeat at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ("sqlite", "postgresql") if args.store == "both" else (args.store,)
    results: dict[str, Any] = {"machine": {"python": platform.python_version(),
                                           "platform": platform.platform()}}
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        for kind in kinds:
            results[kind] = bench_store(kind, args, Path(tmp))
            print_table(kind, results[kind])
    if args.json:
        print(json.dumps(results, indent=2))
    if args.json_file:
        args.json_file.write_text(json.dumps(results, indent=2))
    return 1 if any(results[k]["problems"] for k in kinds) else 0


if __name__ == "__main__":
    sys.exit(main())
