"""Where a web page's slow rounds come from: each request timed beside the time Python's
cyclic garbage collector spent in a full (generation 2) collection during it.

    .venv/bin/python -m bench.web_gc [--store sqlite|postgresql] [--participants 1000]
        [--page /app/participants] [--requests 40] [--warmup 3] [--seed 2026]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

bench.web_pages saw the participants list take ~120 ms in one or two of its 20 rounds against
a median of ~25 ms. This run asks the page in this process (`create_app` behind FastAPI's
TestClient over the same kind of store bench.web_pages fills: its trial, its queries, its
data manager) with a `gc.callbacks` hook that times every generation-2 collection, so each
request's time is shown beside the full collections that ran inside it. The peer, in the
same run: the same requests after `gc.freeze()` (everything allocated so far, the read
models' caches included, moved out of the collector's sight), where a full collection
only walks what the requests themselves leave behind.

In-process figures include TestClient's own work and are not the server's; read the
split (requests with and without a full collection), not the milliseconds. The app here is
`create_app`'s, with the collector as Python ships it: what `trial-ledger serve` ran before
it froze its heap (`create_served_app`, docs/adr/0016-freeze-the-served-process-heap.md).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import DEFAULT_PG_URL, code_version, loadavg_1m, random_text
from bench.server import trial_ledger_command
from bench.stores import fresh_store, require_loopback
from bench.web_pages import fill_store, server_env, settle
from bench.web_profile import in_process_app
from bench.web_workload import DATA_MANAGER, sign_in


@dataclass
class FullCollections:
    """gc.callbacks hook: the milliseconds of each generation-2 collection since `clear`."""

    durations_ms: list[float] = field(default_factory=list)
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.durations_ms.append((time.perf_counter() - self._started) * 1000)

    def clear(self) -> None:
        self.durations_ms.clear()


@dataclass
class Round:
    ms: float
    full_collections: int
    full_collection_ms: float


def time_rounds(client: Any, url: str, headers: dict[str, str], n: int,
                collections: FullCollections) -> list[Round]:
    rounds: list[Round] = []
    for _ in range(n):
        collections.clear()
        started = time.perf_counter()
        reply = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status_code != 200:
            raise SystemExit(f"{url}: {reply.status_code} {reply.text[:200]}")
        rounds.append(Round(elapsed, len(collections.durations_ms),
                            sum(collections.durations_ms)))
    return rounds


def summary(label: str, rounds: Sequence[Round]) -> list[str]:
    hit = [r.ms for r in rounds if r.full_collections]
    clear = [r.ms for r in rounds if not r.full_collections]
    gc_ms = [r.full_collection_ms for r in rounds if r.full_collections]

    def med(values: Sequence[float]) -> str:
        return f"{statistics.median(values):.1f}" if values else "-"

    return [(f"| {label} | {len(rounds)} | {med([r.ms for r in rounds])} | "
            f"{max(r.ms for r in rounds):.1f} | {len(hit)} | {med(hit)} | {med(gc_ms)} | "
            f"{med(clear)} |")]


def run(args: argparse.Namespace) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-web-gc-") as tmp, \
            fresh_store(args.store, args.pg_url, "webgc", Path(tmp)) as store:
        secrets_dir = Path(tmp) / "secrets"
        fill_args = argparse.Namespace(participants=args.participants, seed=args.seed,
                                       queries=args.participants + args.participants // 4,
                                       edit_checks=False)
        filled = fill_store(store["url"], secrets_dir, fill_args, random.Random(args.seed))
        password = random_text(24)
        subprocess.run([trial_ledger_command(), "users", "add", DATA_MANAGER, "--role",
                        "data_manager", "--full-name", "Bench Data Manager",
                        "--password-stdin"], env=server_env(store["url"], secrets_dir, 600),
                       input=password + "\n", text=True, check=True, capture_output=True)
        settle(store["url"], secrets_dir, checkpoint=True)
        collections = FullCollections()
        gc.callbacks.append(collections)
        try:
            with in_process_app(store["url"], secrets_dir) as (_app, client):
                headers = {"Cookie": sign_in(client, DATA_MANAGER, password)}
                settle(store["url"], secrets_dir, checkpoint=False)  # the sign-in's events
                time_rounds(client, args.page, headers, args.warmup, collections)
                tracked = len(gc.get_objects())
                load = loadavg_1m()
                as_is = time_rounds(client, args.page, headers, args.requests, collections)
                gc.freeze()
                frozen = time_rounds(client, args.page, headers, args.requests, collections)
                gc.unfreeze()
        finally:
            gc.callbacks.remove(collections)
    lines = [(f"{args.page} on {args.store}: {args.participants} participants, "
             f"{filled['events']} events; {tracked:,} objects tracked by the collector after "
             f"{args.warmup} warm-up rounds; thresholds {gc.get_threshold()}; "
             f"load {load}"), "",
             ("| rounds | n | median ms | max ms | with a full collection | their median ms "
             "| full collection ms (median) | median ms of the others |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += summary("collector as Python ships it (create_app)", as_is)
    lines += summary("after gc.freeze()", frozen)
    lines += ["", "per round, collector as Python ships it (ms, full collections, their ms):",
              "  ".join(f"{r.ms:.0f}/{r.full_collections}/{r.full_collection_ms:.0f}"
                        for r in as_is)]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--page", default="/app/participants")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    if not args.page.startswith("/app/") or args.participants < 2 or args.requests < 1:
        parser.error("--page /app/..., --participants >= 2, --requests >= 1")
    if args.store == "postgresql":
        require_loopback(args.pg_url)
    print("\n".join(run(args)))
    print(f"\ncommit {code_version().get('commit')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
