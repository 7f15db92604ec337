"""The web app's pages over the real server, each beside the API read it stands on.

    .venv/bin/python -m bench.web_pages [--store sqlite|postgresql|both] [--participants 1000]
        [--requests 20] [--warmup 3] [--queries N] [--edit-checks] [--seed 2026] [--quick]
        [--pages WORD ...] [--page-budget 90]
        [--profile auto|all|none] [--profile-requests 3] [--target-ms 200]
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--timeout 1200]
        [--json-file PATH]

The requirement measured: every page under /app renders in under 200 ms for a 1,000-participant
trial on this machine. For each store kind, in one run:

1. A fresh store (bench/stores.py) filled with bench.endpoints' synthetic trial
   (`services.seed.plan_trial`, folded in memory and saved through the real recorder and hash
   chain in two rounds, `bench.endpoints._fill`), and its queries (the seed has none, and an
   empty monitoring page measures nothing): `--queries` opened by the data manager on random
   entries (default 1.25 per participant, about what the edit checks open on this trial), or
   with `--edit-checks` those the edit checks open (`run_reactions`, as the server's worker
   would on meeting the log: minutes at 1,000 participants). A data manager (every site)
   added with `trial-ledger users add`; every read model projected, a checkpoint signed, the
   tables analysed; all in this process, which then closes the store.
2. The real server over that store and the same secrets folder (so the checkpoint's key is
   the server's): `trial-ledger serve --no-worker` (bench/server.py), so that neither the
   projector, the edit checks nor the checkpoint schedule run beside the timed requests. The
   data manager signs in through the sign-in form (`POST /app/sign-in`: the session cookie)
   and, for the API, `POST /api/v1/auth/token`; the sign-ins' events are projected here too,
   and `GET /api/v1/projections` must show no read model behind.
3. Timed, each page in turn: `--warmup` untimed rounds, then `--requests` rounds, each one
   request of the page and one of its peer, interleaved so that load on the machine falls on
   both alike. The peer is the API read the page stands on, asked with the same account (a
   bearer token) over the same connection. A page that makes several reads also gets them
   all asked, one after the other, each round ("all reads": the sum of their server times),
   so page - all reads is what the page adds beside its reads (more derivations, templates,
   plots). The casebook rounds go through different participants (the same ones for the
   page, its peer and its reads).

Every figure is the server's own time for the request: the `duration_ms` its access log line
records (services/api/middleware.py, from the request's arrival at the app to the last body
byte handed to the server), matched by the `X-Request-ID` each request carries. The client's
wall time (loopback, the body's transfer and httpx's parsing included) is shown beside it,
and the target is judged on the client's p95: what a browser on this machine would wait.

Every answer is checked: 200 (a 303 to the sign-in form would mean the session was lost),
the right content type, and for the pages what they must show (a link per participant; the
casebook's participant; four figures on the endpoints page; a PNG's signature).

4. Profiles (`--profile auto`: the pages over the target; `all`; `none`): after the server
   has stopped, the same app in this process (`create_app` behind FastAPI's TestClient, the
   same store, signed in through the same form), each profiled page asked once, then
   `--profile-requests` times under yappi (wall clock, every thread), keeping the threads
   that ran the page's function. Prints the page function's wall time per request
   under the profiler, the project's functions by inclusive time and every function
   (libraries and builtins included, waits for other threads excluded) by own time.
   yappi slows everything down; read the shares, not the milliseconds.

Exit status 1 if any answer failed its check, the server died, or the run hit --timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    DEFAULT_PG_URL,
    BenchFailure,
    Deadline,
    code_version,
    fmt,
    interpolated_percentile,
    loadavg_1m,
    log_stamped,
    random_text,
    ratio,
    store_versions,
)
from bench.server import Server, fetch_token, with_server_errors
from bench.stores import fresh_store, open_ledger, require_loopback
from bench.web_profile import profile_pages
from bench.web_workload import CONTENT_TYPES, DATA_MANAGER, Page, build_pages, quoted, sign_in

QUICK_PARTICIPANTS = 50
QUICK_REQUESTS = 8
QUICK_WARMUP = 2
MIN_ROUNDS = 5
REQUEST_TIMEOUT_S = 120.0
def _log(message: str) -> None:
    log_stamped(message, "web_pages")


# -- the timed series ---------------------------------------------------------------------


@dataclass
class Samples:
    """Request ids and client wall times of one series of requests."""

    ids: list[str] = field(default_factory=list)
    client_s: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)


# -- the store -------------------------------------------------------------------------------


def fill_store(url: str, secrets_dir: Path, args: argparse.Namespace, rng: random.Random
               ) -> dict[str, Any]:
    """bench.endpoints' trial, and its queries: `--queries` opened by the data manager on
    random entries (`services.monitoring.queries.open_query`, one transaction each), or, with
    `--edit-checks`, those the edit checks open (`run_reactions`, what the server's worker
    does when it first meets the log: minutes at 1,000 participants)."""
    from bench.endpoints import _fill
    from domain.ledger_event import Author
    from domain.participant import RECORD_KEEPING_TYPES
    from services.monitoring.queries import open_query
    from services.monitoring.runner import run_reactions
    from services.seed import fold_plan, plan_trial

    out: dict[str, Any] = {}
    opened = open_ledger(url, secrets_dir=secrets_dir)
    try:
        started = time.perf_counter()
        folded = fold_plan(plan_trial(participants=args.participants, seed=args.seed))
        between, events = _fill(opened, folded)
        out.update(events=events, between=between, pids=[p.id for p in folded],
                   fill_s=round(time.perf_counter() - started, 1))
        started = time.perf_counter()
        if args.edit_checks:
            out["reactions_handled"] = run_reactions(opened.ledger, opened.engine)
        else:
            by = Author(DATA_MANAGER, "data_manager")
            for _ in range(args.queries):
                participant = rng.choice(folded)
                entry = rng.choice([e for e in participant.entries.values()
                                    if e.type not in RECORD_KEEPING_TYPES
                                    and e.voided_by is None])
                open_query(opened.ledger, participant, event_id=entry.event_id, field=None,
                           text="Please confirm this entry against the source document.",
                           by=by)
        out["queries_s"] = round(time.perf_counter() - started, 1)
    finally:
        opened.close()
    return out


def settle(url: str, secrets_dir: Path, *, checkpoint: bool) -> float:
    """Every read model brought up to the log's head in this process (the server runs no
    worker: nothing runs beside the timed requests); with `checkpoint`, a checkpoint signed
    and the tables analysed. The seconds it took."""
    from infra.ledger.checkpoints import issue_checkpoint
    from projections.runner import Projector
    from projections.state import REBUILD_BATCH

    started = time.perf_counter()
    opened = open_ledger(url, secrets_dir=secrets_dir)
    try:
        Projector(opened.ledger, opened.engine).catch_up(limit=REBUILD_BATCH)
        if checkpoint:
            issue_checkpoint(opened.engine, opened.settings)
            with opened.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        opened.close()
    return round(time.perf_counter() - started, 1)


def server_env(url: str, secrets_dir: Path, timeout_s: float) -> dict[str, str]:
    return {
        **os.environ,
        "TRIAL_LEDGER_DATABASE_URL": url,
        "TRIAL_LEDGER_JWT_SECRET": random_text(48),
        "TRIAL_LEDGER_SECRETS_DIR": str(secrets_dir),
        "TRIAL_LEDGER_TOKEN_TTL_MINUTES": str(min(24 * 60, int(timeout_s // 60) + 30)),
        "TRIAL_LEDGER_LOG_LEVEL": "INFO",  # the access lines carry the server's durations
        "PYTHONUNBUFFERED": "1",
    }


def check_projected(client: httpx.Client, bearer: dict[str, str]) -> None:
    reply = client.get("/api/v1/projections", headers=bearer)
    if reply.status_code != 200 or any(r["behind"] for r in reply.json()):
        raise BenchFailure(f"read models behind the log: {reply.status_code} {reply.text[:300]}")


# -- the timed rounds ------------------------------------------------------------------------


class Asker:
    """GETs over one keep-alive connection, each with its own X-Request-ID, checked."""

    def __init__(self, client: httpx.Client, run: str, cookie: str, bearer: dict[str, str]
                 ) -> None:
        self.client, self.run = client, run
        self.page_headers = {"Cookie": cookie}
        self.api_headers = bearer
        self.failures: list[str] = []
        self.count = 0

    def ask(self, url: str, *, page: bool, kind: str, into: Samples | None,
            check: Callable[[httpx.Response], str | None] = lambda r: None) -> None:
        self.count += 1
        request_id = f"{self.run}-{self.count}"
        headers = {**(self.page_headers if page else self.api_headers),
                   "X-Request-ID": request_id}
        started = time.perf_counter()
        reply = self.client.get(url, headers=headers)
        elapsed = time.perf_counter() - started
        problem = None
        if reply.status_code != 200:
            problem = f"{reply.status_code} {reply.headers.get('location', '')} {reply.text[:200]}"
        elif not reply.headers.get("content-type", "").startswith(CONTENT_TYPES[kind]):
            problem = f"content type {reply.headers.get('content-type')!r}"
        else:
            problem = check(reply)
        if problem is not None:
            self.failures.append(f"GET {url}: {problem}")
        if into is not None:
            into.ids.append(request_id)
            into.client_s.append(elapsed)


@dataclass
class Measured:
    page: Samples = field(default_factory=Samples)
    peer: Samples = field(default_factory=Samples)
    reads: list[Samples] = field(default_factory=list)


def time_pages(asker: Asker, pages: Sequence[Page], warmup: int, requests: int,
               deadline: Deadline, page_budget_s: float) -> dict[str, Measured]:
    """Each page's rounds; a page whose rounds would take longer than `page_budget_s` stops
    after the round that passes it (at least MIN_ROUNDS timed), so one very slow page does
    not eat the run (its n is shown)."""
    measured: dict[str, Measured] = {}
    for page in pages:
        deadline.check(f"timing {page.name}")
        found = measured[page.name] = Measured(reads=[Samples() for _ in page.reads])
        started = time.monotonic()
        for i in range(warmup + requests):
            timed = i >= warmup

            def check(reply: httpx.Response, i: int = i, page: Page = page) -> str | None:
                return page.check(i, reply)

            asker.ask(page.url(i), page=True, kind=page.kind,
                      into=found.page if timed else None, check=check)
            asker.ask(page.peer(i), page=False, kind="json",
                      into=found.peer if timed else None)
            for read, samples in zip(page.reads, found.reads, strict=True):
                asker.ask(read(i), page=False, kind="json", into=samples if timed else None)
            if (time.monotonic() - started > page_budget_s
                    and len(found.page.ids) >= MIN_ROUNDS):
                break
        _log(f"  {page.name}: {len(found.page.ids)} rounds in "
             f"{time.monotonic() - started:.0f} s")
    return measured


def server_durations(log_path: Path) -> dict[str, float]:
    """request_id -> duration_ms, from the server's access lines."""
    found: dict[str, float] = {}
    with log_path.open(errors="replace") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (isinstance(record, dict) and record.get("event") == "request"
                    and "request_id" in record and "duration_ms" in record):
                found[str(record["request_id"])] = float(record["duration_ms"])
    return found


def _stats(values_ms: Sequence[float]) -> dict[str, float | None]:
    ordered = sorted(values_ms)
    return {"median_ms": interpolated_percentile(ordered, 50),
            "p95_ms": interpolated_percentile(ordered, 95),
            "max_ms": ordered[-1] if ordered else None}


def summarise(measured: dict[str, Measured], durations: dict[str, float], target_ms: float,
              labels: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Per page: the server's and the client's figures, its peer's, its reads' (each read
    named by its first round's URL in `labels`)."""
    rows = []
    for name, found in measured.items():
        for samples in (found.page, found.peer, *found.reads):
            samples.server_ms = [durations[i] for i in samples.ids if i in durations]
        sums = [sum(values) for values in zip(*(s.server_ms for s in found.reads),
                                                strict=True)] if found.reads else []
        page, peer = _stats(found.page.server_ms), _stats(found.peer.server_ms)
        client = _stats([s * 1000 for s in found.page.client_s])
        reads = _stats(sums) if sums else None
        rows.append({
            "page": name, "n": len(found.page.client_s),
            "server_logged": len(found.page.server_ms),
            "page_median_ms": page["median_ms"], "page_p95_ms": page["p95_ms"],
            "page_max_ms": page["max_ms"],
            "client_median_ms": client["median_ms"], "client_p95_ms": client["p95_ms"],
            "peer_median_ms": peer["median_ms"], "peer_p95_ms": peer["p95_ms"],
            "ratio_page_over_peer": ratio(page["median_ms"], peer["median_ms"]),
            "reads_count": len(found.reads),
            "reads_median_ms": reads["median_ms"] if reads else None,
            "ratio_page_over_reads": ratio(page["median_ms"],
                                           reads["median_ms"] if reads else None),
            "target_met": (client["p95_ms"] is not None and client["p95_ms"] < target_ms),
            "reads": [{"read": label, "median_ms": _stats(samples.server_ms)["median_ms"]}
                      for label, samples in zip(labels[name], found.reads, strict=True)],
        })
    return rows


# -- one store -------------------------------------------------------------------------------


def bench_store(kind: str, args: argparse.Namespace, workdir: Path, deadline: Deadline
                ) -> dict[str, Any]:
    result: dict[str, Any] = {"store": kind}
    with fresh_store(kind, args.pg_url, "web", workdir) as store:
        secrets_dir = workdir / f"secrets-{kind}"
        rng = random.Random(f"web_pages:{args.seed}:{kind}")
        _log(f"{kind}: filling {args.participants} participants (bench.endpoints' trial)")
        filled = fill_store(store["url"], secrets_dir, args, rng)
        result.update({k: v for k, v in filled.items() if k != "pids"})
        _log(f"{kind}: {filled['events']} events saved in {filled['fill_s']} s; queries in "
             f"{filled['queries_s']} s")
        deadline.check("filling the store")
        server = Server(server_env(store["url"], secrets_dir, args.timeout), workdir, deadline,
                        serve_options=("--no-worker",))
        password = random_text(24)
        server.cli("users", "add", DATA_MANAGER, "--role", "data_manager", "--full-name",
                   "Bench Data Manager", "--password-stdin", stdin=password + "\n")
        result["projection_s"] = settle(store["url"], secrets_dir, checkpoint=True)
        _log(f"{kind}: projected in {result['projection_s']} s")
        pids = rng.sample(filled["pids"], min(len(filled["pids"]), args.warmup + args.requests))
        pages = [p for p in build_pages(pids, filled["between"], args.participants)
                 if not args.pages or any(w in p.name for w in args.pages)]
        _log(f"{kind}: starting trial-ledger serve --no-worker on {server.base_url}")
        with server, with_server_errors(server), httpx.Client(
                base_url=server.base_url, timeout=REQUEST_TIMEOUT_S,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                follow_redirects=False) as client:
            bearer = {"Authorization": f"Bearer {fetch_token(client, DATA_MANAGER, password)}"}
            cookie = sign_in(client, DATA_MANAGER, password)
            settle(store["url"], secrets_dir, checkpoint=False)  # the sign-ins' events
            check_projected(client, bearer)
            listed = client.get("/api/v1/queries", headers=bearer)
            result["queries_listed"] = listed.json()["count"] if listed.status_code == 200 \
                else None
            result["loadavg_1m_before"] = loadavg_1m()
            _log(f"{kind}: {result['queries_listed']} queries; timing {len(pages)} pages, "
                 f"{args.warmup} + {args.requests} rounds each")
            asker = Asker(client, f"wp-{kind}-{uuid.uuid4().hex[:8]}", cookie, bearer)
            measured = time_pages(asker, pages, args.warmup, args.requests, deadline,
                                  args.page_budget)
            result["loadavg_1m_after"] = loadavg_1m()
            result["failures"] = asker.failures[:20]
            result["failure_count"] = len(asker.failures)
            result["server_alive_after"] = server.alive()
        result["server_log"] = server.log_counts()
        labels = {p.name: [read(0).replace(pids[0], "{id}").replace(quoted(filled["between"]), "T")
                           for read in p.reads] for p in pages}
        result["rows"] = summarise(measured, server_durations(server.log_path), args.target_ms,
                                   labels)
        over = [p for p, row in zip(pages, result["rows"], strict=True)
                if args.profile == "all" or (args.profile == "auto" and not row["target_met"])]
        if over:
            deadline.check("profiling")
            _log(f"{kind}: profiling {', '.join(p.name for p in over)} in-process")
            try:
                result["profiles"] = profile_pages(store["url"], secrets_dir, password, over,
                                                   1, args.profile_requests)
            except Exception as error:  # noqa: BLE001 - the timed figures still stand
                _log(f"{kind}: profiling failed: {type(error).__name__}: {error}")
                result["profile_error"] = f"{type(error).__name__}: {error}"
    return result


# -- the report ------------------------------------------------------------------------------


def render(doc: dict[str, Any]) -> str:
    target = doc["target_ms"]
    out: list[str] = []
    for result in doc["stores"]:
        if "error" in result:
            out.append(f"\n== {result['store']}: FAILED: {result['error']}")
            continue
        out.append(
            f"\n== {doc['versions'].get(result['store'], result['store'])}: "
            f"{doc['participants']} participants, {result['events']} events, "
            f"{result['queries_listed']} queries"
            f"{' (from the edit checks)' if doc['edit_checks'] else ''}; "
            f"{doc['requests']} requests per page after {doc['warmup']} warm-ups; "
            f"load {result['loadavg_1m_before']} -> {result['loadavg_1m_after']}")
        out.append("server time (the access line's duration_ms), ms; client = wall time at "
                   f"the client; target: client p95 < {target:g} ms")
        out.append("| page | n | median | p95 | client median / p95 | peer (API read) median | "
                   f"ratio page/peer | all reads median (n) | ratio page/reads | < {target:g} ms |")
        out.append("|---|---:|---:|---:|---|---:|---:|---|---:|---|")
        for row in result["rows"]:
            reads = ("-" if row["reads_median_ms"] is None
                     else f"{row['reads_median_ms']:.1f} ({row['reads_count']})")
            out.append(
                f"| {row['page']} | {row['n']} | {fmt(row['page_median_ms'], '.1f')} | "
                f"{fmt(row['page_p95_ms'], '.1f')} | {fmt(row['client_median_ms'], '.1f')} / "
                f"{fmt(row['client_p95_ms'], '.1f')} | {fmt(row['peer_median_ms'], '.1f')} | "
                f"{fmt(row['ratio_page_over_peer'], '.1f')} | {reads} | "
                f"{fmt(row['ratio_page_over_reads'], '.2f')} | "
                f"{'yes' if row['target_met'] else '**no**'} |")
        out.append("each read of the pages that make several (server median ms): " + "; ".join(
            f"{row['page']}: " + ", ".join(f"{r['read']} {fmt(r['median_ms'], '.1f')}"
                                           for r in row["reads"])
            for row in result["rows"] if row["reads"]))
        if result["failure_count"]:
            out.append(f"{result['failure_count']} answers failed their check:")
            out.extend(f"  {f}" for f in result["failures"])
        missing = [r["page"] for r in result["rows"] if r["server_logged"] < r["n"]]
        if missing:
            out.append(f"(no access line for some requests of: {', '.join(missing)})")
        out.append(f"fill {result['fill_s']} s, queries {result['queries_s']} s, projection "
                   f"{result['projection_s']} s; server log lines: {result['server_log']}")
        if "profile_error" in result:
            out.append(f"profiling failed: {result['profile_error']}")
        for name, prof in result.get("profiles", {}).items():
            out.append(f"\n-- profile: {name} ({prof['page_function']}), {prof['requests']} "
                       f"requests in-process under yappi (wall clock): page function "
                       f"{prof['page_ms_per_request']} ms/request, request "
                       f"{prof['client_ms_per_request']} ms")
            out.append("   inclusive, the project's functions (ms/request, share of the page "
                       "function, calls/request):")
            out.extend(f"   {r['ms_per_request']:9.2f} {100 * (r['share'] or 0):5.1f}% "
                       f"{r['calls_per_request']:9.1f}  {r['function']}"
                       for r in prof["inclusive_ours"])
            out.append("   own time, every function (waits for other threads left out):")
            out.extend(f"   {r['ms_per_request']:9.2f} {100 * (r['share'] or 0):5.1f}% "
                       f"{r['calls_per_request']:9.1f}  {r['function']}"
                       for r in prof["own_all"])
    return "\n".join(out)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--participants", type=int, default=None,
                        help="participants seeded (default 1000; --quick: 50)")
    parser.add_argument("--requests", type=int, default=None,
                        help="timed rounds per page (default 20; --quick: 8)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed rounds per page first (default 3; --quick: 2)")
    parser.add_argument("--queries", type=int, default=None,
                        help="queries opened before timing (default: 1.25 per participant, "
                             "about what the edit checks open on this trial)")
    parser.add_argument("--edit-checks", action="store_true",
                        help="run the edit checks over the log instead (their queries; "
                             "minutes at 1,000 participants)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 50 participants, 8 rounds after 2 warm-ups")
    parser.add_argument("--pages", nargs="*", default=None,
                        help="only the pages whose name contains one of these words")
    parser.add_argument("--profile", choices=("auto", "all", "none"), default="auto")
    parser.add_argument("--profile-requests", type=int, default=3)
    parser.add_argument("--target-ms", type=float, default=200.0)
    parser.add_argument("--page-budget", type=float, default=90.0,
                        help="seconds one page's rounds may take before it stops (after at "
                             f"least {MIN_ROUNDS} timed rounds; default 90)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args(argv)
    quick = args.quick
    args.participants = args.participants or (QUICK_PARTICIPANTS if quick else 1000)
    args.requests = args.requests or (QUICK_REQUESTS if quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if quick else 3)
    args.queries = (args.queries if args.queries is not None
                    else args.participants + args.participants // 4)
    if args.participants < 2 or args.requests < 1 or args.warmup < 0:
        parser.error("--participants >= 2, --requests >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    if "postgresql" in kinds:
        require_loopback(args.pg_url)
    deadline = Deadline(args.timeout)
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "benchmark": "web_pages", "argv": sys.argv[1:] if argv is None else list(argv),
        "participants": args.participants, "requests": args.requests, "warmup": args.warmup,
        "target_ms": args.target_ms, "edit_checks": args.edit_checks, "cpus": os.cpu_count(),
        "code": code_version(),
        "versions": store_versions(args.pg_url, kinds), "stores": [],
    }
    status = 0
    with tempfile.TemporaryDirectory(prefix="bench-web-pages-") as tmp:
        for kind in kinds:
            try:
                result = bench_store(kind, args, Path(tmp), deadline)
            except Exception as error:  # noqa: BLE001 - the other store still runs
                _log(f"{kind} failed: {type(error).__name__}: {error}")
                result = {"store": kind, "error": f"{type(error).__name__}: {error}"}
            doc["stores"].append(result)
            if "error" in result or result["failure_count"] or not result["server_alive_after"]:
                status = 1
    doc["elapsed_s"] = round(time.perf_counter() - started, 1)
    doc["ok"] = status == 0
    print(render(doc))
    print(f"\ncommit {doc['code'].get('commit')} (+{doc['code'].get('uncommitted_files')} "
          f"uncommitted files); {doc['elapsed_s']:.0f} s in all")
    if args.json_file:
        args.json_file.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
