"""Read-side benchmark: the three hot reads through the real app at 1,000 participants x 50
events, each beside a bare indexed SELECT of the same rows measured in the same run.

    .venv/bin/python -m bench.reads [--store sqlite|postgresql|both] [--participants 1000]
        [--events-per 50] [--reads 200] [--before-reads 5] [--seed 1]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--window 2500] [--explain]
        [--json-file PATH]

For each store kind, in one run:

1. A fresh store (bench/stores.py: a temp SQLite file, or `CREATE DATABASE
   bench_<random>_reads` on --pg-url, dropped at the end), migrated, and filled as
   bench/timetravel.py fills one (bench/histories.py): each participant's history built on its `Participant`
   aggregate (8 history shapes validated in full through `Participant.record`, every
   participant then built from its shape) and saved with `ledger.save` in interleaved
   rounds (~50 events per transaction, real recorder: chain rows and the event id index in
   the same transaction). Two accounts (a data manager, an auditor) are created, the read
   models are projected once (`Projector.catch_up`), a checkpoint is signed and the
   tables analysed (`ANALYZE`, as PostgreSQL's autovacuum does after a bulk load).
2. The app (`services.app.create_app`) behind FastAPI's TestClient with bearer tokens;
   untimed warm-up reads first. Timed, --reads each (random targets, same seed):
   - `GET /api/v1/ledger/proofs/inclusion?event_id=` (auditor), a random stored event;
   - `GET /api/v1/participants` (data manager, every site);
   - `GET /api/v1/audit-trail?participant_id=` (auditor), a random participant: one page
     of --events-per entries, each verified against its chain hash;
   - `GET /api/v1/audit-trail?site_id=&event_type=&recorded_from=&recorded_to=` (auditor):
     a random site, one of four event types and a random window of the recorded times
     covering --window events of the log (2,500 by default): one page (up to 100) of the
     matching entries, each verified.
   Every answer is checked (200; the proof names the asked event; the list holds every
   participant; the trail holds the participant's --events-per entries, all verified; the
   filtered trail holds exactly the first matching entries, counted by a bare SELECT
   beforehand, all verified and all of the asked site, type and window).
3. Peers (bench/read_peers.py), in the same run, same targets: the bare SELECTs an answer
   needs at least, through the same engine: the index row for the event id; the read
   model's rows of every participant; the participant's audit-feed rows and their stored
   events by position; for the filtered trail, the window's first and last positions from
   the chain's recorded-time index, then the feed rows of the site and type in that position
   range (the site index) and their stored events. And the HTTP floor: `GET /health` (one
   `SELECT 1`) through the same client.
   And the event id look-up alone, in-process (`find_indexed_event`: the index row, the
   stored event and chain row at its position, the event id checked in the stored bytes),
   beside the same bare index row.
   And, in-process, the audit trail's candidate select alone (`projections.queries`)
   beside the same bare feed rows.
4. Before (--before-reads each, 0 to skip): the paths these reads replaced, called
   in-process: the byte scan of every stored event for the event id
   (`MerkleStore.find_event`, shown against both proof rows), folding every participant
   (`visible_participants`), and the audit-feed select filtered on coalesce(chain stream,
   feed stream) over the whole feed (against the candidate select). The HTTP audit-trail
   row has no before figure: the route it replaced also folded every participant for
   `scope.enrolled`, i.e. it cost at least the list's before figure.

Prints p50/p95 per read and the ratios ours p95 / peer p95 and before p50 / ours p50.
`--explain` prints the query plan (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN ANALYZE`)
of every statement the app runs for: the participant list, the audit trail by participant,
by site, by user, by event type, by recorded-time range, and by all of these but the
participant together.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.harness import DEFAULT_PG_URL, RunDeadline, log_stamped, rounded_rank_percentile
from bench.histories import Workload, populate, validate_shapes
from bench.read_peers import (
    FILTER_PAGE,
    before_audit,
    explain,
    filter_targets,
    ours_audit_select,
    peer_feed_rows,
    peer_filtered,
    peer_index_row,
    peer_summaries,
)
from bench.stores import fresh_store, open_ledger, require_loopback

WARMUP = 10


def _log(message: str) -> None:
    log_stamped(message, "reads")


def latency(samples_s: Sequence[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in samples_s]
    return {"n": len(ms), "p50_ms": rounded_rank_percentile(ms, 50),
            "p95_ms": rounded_rank_percentile(ms, 95), "max_ms": max(ms) if ms else None}


def timed(targets: Sequence[Any], call: Callable[[Any], object]) -> dict[str, Any]:
    samples = []
    for target in targets:
        started = time.perf_counter()
        call(target)
        samples.append(time.perf_counter() - started)
    return latency(samples)


# -- the store ----------------------------------------------------------------------------------


class Bench:
    """One filled store, the app over it and tokens for its two accounts."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.opened = open_ledger(url, secrets_dir=workdir / "secrets")
        self.settings, self.engine = self.opened.settings, self.opened.engine
        self.ledger = self.opened.ledger

    def close(self) -> None:
        self.opened.close()

    def accounts(self) -> None:
        from domain.account import Account
        from infra.security.passwords import hash_password

        password = hash_password(secrets.token_urlsafe(24))
        for username, role in (("bench.dm", "data_manager"), ("bench.auditor", "auditor")):
            self.ledger.create_account(Account.create(
                username=username, full_name=username, role=role, sites=[],
                password_hash=password, event_id=str(uuid.uuid4()), actor="bench",
                actor_role="system"))

    def token(self, username: str) -> str:
        from datetime import timedelta

        from infra.secrets import ensure_secrets
        from infra.security.tokens import issue_token

        account = self.ledger.account(username)
        assert account is not None
        token, _ = issue_token(ensure_secrets(self.settings).token_secret, username=username,
                               role=account.account_role,
                               account_version=account.credentials_version,
                               ttl=timedelta(minutes=60))
        return token


@contextlib.contextmanager
def _client(settings: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from infra.logging import configure_logging
    from services.app import create_app

    # One access line per request would be timed too: only warnings, and nowhere.
    configure_logging("WARNING", stream=io.StringIO())
    app = create_app(settings, configure_logs=False)
    with TestClient(app) as client:
        yield client


def _stored_ids(bench: Bench) -> list[tuple[str, int]]:
    from infra.ledger.event_index import event_id_of

    found = []
    for row in bench.ledger.store.iter_stored():
        event_id = event_id_of(row.state)
        if event_id is not None:
            found.append((event_id, row.position))
    return found


# -- one store ----------------------------------------------------------------------------------


def bench_store(kind: str, args: argparse.Namespace, workload: Workload, workdir: Path
                ) -> dict[str, Any]:
    from infra.ledger.checkpoints import issue_checkpoint
    from infra.ledger.event_index import find_indexed_event
    from infra.ledger.merkle_store import MerkleStore
    from projections.runner import Projector
    from services.api.scope import visible_participants

    result: dict[str, Any] = {"store": kind}
    with fresh_store(kind, args.pg_url, "reads", workdir) as store:
        bench = Bench(store["url"], workdir / kind)
        try:
            _log(f"{kind}: populating {args.participants} x {args.events_per} events")
            result["population"] = populate(
                bench.opened, workload, args.participants, False,
                RunDeadline(args.timeout), kind)
            bench.accounts()
            started = time.perf_counter()
            Projector(bench.ledger, bench.engine).catch_up(limit=5000)
            result["projection_s"] = time.perf_counter() - started
            issue_checkpoint(bench.engine, bench.settings)
            # Table statistics, as PostgreSQL's autovacuum would gather them after a bulk
            # load (the bench does not wait for it); SQLite's are gathered the same way.
            with bench.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            events = _stored_ids(bench)
            result["events"] = len(events)
            _log(f"{kind}: {len(events)} events stored, projected in "
                 f"{result['projection_s']:.1f} s")
            rng = random.Random(f"reads:{args.seed}:{kind}")
            event_targets = [rng.choice(events)[0] for _ in range(args.reads)]
            pids = [rng.choice(workload.ids) for _ in range(args.reads)]
            filtered = filter_targets(bench.engine, rng, args.reads, args.window)
            n = args.participants
            with _client(bench.settings) as client:
                auditor = {"Authorization": f"Bearer {bench.token('bench.auditor')}"}
                dm = {"Authorization": f"Bearer {bench.token('bench.dm')}"}

                def proof(event_id: str) -> None:
                    response = client.get("/api/v1/ledger/proofs/inclusion", headers=auditor,
                                          params={"event_id": event_id})
                    assert response.status_code == 200, response.text
                    assert response.json()["event_id"] == event_id

                def listing(_: Any) -> None:
                    response = client.get("/api/v1/participants", headers=dm)
                    assert response.status_code == 200, response.text
                    assert len(response.json()["participants"]) == n

                def trail(pid: str) -> None:
                    response = client.get("/api/v1/audit-trail", headers=auditor,
                                          params={"participant_id": pid})
                    assert response.status_code == 200, response.text
                    entries = response.json()["entries"]
                    assert len(entries) == args.events_per, (pid, len(entries))
                    assert all(e["verified"] for e in entries)

                def trail_filtered(target: tuple[Any, ...]) -> None:
                    site, type_, (low, high), expected = target
                    response = client.get("/api/v1/audit-trail", headers=auditor, params={
                        "site_id": site, "event_type": type_, "recorded_from": low,
                        "recorded_to": high, "limit": FILTER_PAGE})
                    assert response.status_code == 200, response.text
                    entries = response.json()["entries"]
                    assert len(entries) == expected, (target, len(entries))
                    assert all(e["verified"] and e["site_id"] == site and e["type"] == type_
                               and low <= e["recorded_at"] <= high for e in entries)

                def health(_: Any) -> None:
                    assert client.get("/health").status_code == 200

                for _ in range(WARMUP):
                    proof(event_targets[0])
                    listing(None)
                    trail(pids[0])
                    trail_filtered(filtered[0])
                    health(None)
                reads = {
                    "inclusion proof by event_id": (
                        timed(event_targets, proof),
                        timed(event_targets, peer_index_row(bench.engine))),
                    "participants list": (
                        timed(range(args.reads), listing),
                        timed(range(args.reads), peer_summaries(bench.engine, n))),
                    "audit trail by participant": (
                        timed(pids, trail),
                        timed(pids, peer_feed_rows(bench.engine, args.events_per))),
                    "audit trail by site, type and recorded time": (
                        timed(filtered, trail_filtered),
                        timed(filtered, peer_filtered(bench.engine))),
                }
                last = bench.ledger.store.max_position()
                reads["audit-trail candidate select, in-process"] = (
                    timed(pids, ours_audit_select(bench.engine, last, args.events_per)),
                    timed(pids, peer_feed_rows(bench.engine, args.events_per)))
                lookup_peer = peer_index_row(bench.engine)
                reads["event_id look-up, in-process"] = (
                    timed(event_targets, lambda e: _found(find_indexed_event(bench.engine, e))),
                    timed(event_targets, lookup_peer))
                result["http_floor"] = timed(range(args.reads), health)
                if args.explain:
                    result["plans"] = explain(bench.engine, client, auditor, pids[0],
                                              filtered[0])
            result["reads"] = {name: {"ours": ours, "peer": peer}
                               for name, (ours, peer) in reads.items()}
            if args.before_reads:
                _log(f"{kind}: the replaced paths, {args.before_reads} each")
                tree = MerkleStore(bench.engine)
                before = {
                    "inclusion proof by event_id": timed(
                        event_targets[:args.before_reads],
                        lambda e: tree.find_event(e)),
                    "participants list": timed(
                        range(args.before_reads),
                        lambda _: visible_participants(bench.ledger, None, None)),
                    "audit-trail candidate select, in-process": timed(
                        pids[:args.before_reads], before_audit(bench.engine, last)),
                }
                before["event_id look-up, in-process"] = before["inclusion proof by event_id"]
                for name, figures in before.items():
                    result["reads"][name]["before"] = figures
        finally:
            bench.close()
    return result


def _found(leaf: Any) -> None:
    assert leaf is not None


# -- output ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.0f}")


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.1f}"


def render(doc: dict[str, Any]) -> str:
    lines = []
    for result in doc["stores"]:
        if "error" in result:
            lines.append(f"{result['store']}: FAILED: {result['error']}")
            continue
        floor = result["http_floor"]
        lines.append(f"\n{result['store']}: {result['events']} events, projected in "
                     f"{result['projection_s']:.1f} s; HTTP floor GET /health p50/p95 "
                     f"{_ms(floor['p50_ms'])} / {_ms(floor['p95_ms'])} ms")
        lines.append("| read | ours p50 / p95 ms | peer p50 / p95 ms | ours/peer p95 | "
                     "before p50 ms | before/ours p50 |")
        lines.append("|---|---|---|---:|---:|---:|")
        for name, figures in result["reads"].items():
            ours, peer = figures["ours"], figures["peer"]
            before = figures.get("before", {})
            lines.append(
                f"| {name} | {_ms(ours['p50_ms'])} / {_ms(ours['p95_ms'])} | "
                f"{_ms(peer['p50_ms'])} / {_ms(peer['p95_ms'])} | "
                f"{_ratio(ours['p95_ms'], peer['p95_ms'])} | {_ms(before.get('p50_ms'))} | "
                f"{_ratio(before.get('p50_ms'), ours['p50_ms'])} |")
        lines.extend(result.get("plans", []))
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--events-per", type=int, default=50)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--before-reads", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--window", type=int, default=2500,
                        help="events of the log a filtered read's recorded-time window spans")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args(argv)
    if args.participants < 1 or args.events_per < 2 or args.reads < 1:
        parser.error("--participants, --reads >= 1 and --events-per >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    if "postgresql" in kinds:
        require_loopback(args.pg_url)
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "benchmark": "reads", "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg": list(os.getloadavg())},
        "stores": [],
    }
    shapes = min(8, args.participants)
    _log(f"validating {shapes} history shapes of {args.events_per} events")
    doc["validation"] = validate_shapes(shapes, args.events_per, args.seed, 1,
                                        RunDeadline(args.timeout))
    workload = Workload.build(args.participants, args.events_per, args.seed, shapes, 50)
    status = 0
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        for kind in kinds:
            try:
                doc["stores"].append(bench_store(kind, args, workload, Path(tmp)))
            except Exception as error:  # noqa: BLE001 - the other store still runs
                _log(f"{kind} failed: {type(error).__name__}: {error}")
                doc["stores"].append({"store": kind, "error": f"{type(error).__name__}: {error}"})
                status = 1
    doc["elapsed_s"] = time.perf_counter() - started
    doc["machine"]["loadavg_end"] = list(os.getloadavg())
    doc["ok"] = status == 0
    print(render(doc))
    print(f"load average before / after: {doc['machine']['loadavg']} / "
          f"{doc['machine']['loadavg_end']}; {doc['elapsed_s']:.0f} s")
    if args.json_file:
        args.json_file.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
