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
import contextlib
import cProfile
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import random
import secrets
import signal
import sqlite3
import string
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.ingest import fresh_store as ingest_fresh_store
from domain.events import CATALOGUE
from domain.participant import NewEntry, Participant
from tests import story

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SITES = ("S01", "S02", "S03", "S04")
FIRST_ENROLLMENT = date(2021, 1, 4)
TODAY = date(2026, 1, 5)
"""`today` for the domain rules: after every generated date (histories of up to ~250 entries
end before 2024; longer ones are refused by `history`)."""
WARMUP_READS = 10
BLOCK = 25
"""Pairs per block when the point-in-time read and its peers alternate."""


class BenchTimeout(Exception):
    """The run hit --timeout."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def check(self, what: str) -> None:
        if self.remaining() <= 0:
            raise BenchTimeout(f"--timeout of {self.seconds:.0f} s reached during {what}")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- statistics ---------------------------------------------------------------------------


def _percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def latency(samples_s: Sequence[float], cpu_s: Sequence[float] = ()) -> dict[str, Any]:
    """Wall-clock percentiles in ms; with `cpu_s`, this thread's CPU time too (for SQLite
    that includes the database work; for PostgreSQL, not the server's)."""
    values = sorted(s * 1000 for s in samples_s)
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None, "min_ms": None,
                "max_ms": None}
    out = {"n": len(values), "p50_ms": _percentile(values, 50),
           "p95_ms": _percentile(values, 95), "mean_ms": sum(values) / len(values),
           "min_ms": values[0], "max_ms": values[-1]}
    if cpu_s:
        cpu = sorted(s * 1000 for s in cpu_s)
        out.update(cpu_p50_ms=_percentile(cpu, 50), cpu_p95_ms=_percentile(cpu, 95),
                   cpu_mean_ms=sum(cpu) / len(cpu))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# -- workload: histories built on the Participant aggregate ---------------------------------


def _entry(body: dict[str, Any], rng: random.Random) -> NewEntry:
    """As tests/unit/test_participant_rules.py::entry: the payload validated by its schema."""
    return NewEntry(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        type=body["type"],
        occurred_on=date.fromisoformat(body["occurred_on"]),
        data=CATALOGUE[body["type"]].payload.model_validate(body["data"]),
        reason=body.get("reason"),
        actor="bench.coordinator",
        role="site_coordinator",
    )


def history(shape: int, index: int, n_events: int, seed: int) -> list[NewEntry]:
    """One participant's course as `n_events` valid entries, enrollment first.

    Every 21-day cycle: a camrelizumab infusion, an apatinib period and a follow-up contact;
    a CT every second cycle (baseline before the first dose), TACE every sixth cycle; every
    fourth cycle a hypertension AE that is upgraded to grade 3, interrupts apatinib, resolves,
    and apatinib resumes; every 13th infusion is mis-keyed as 20 mg and corrected, every 17th
    contact is a duplicate that is voided and re-entered. Clinical values come from `shape`;
    event ids, the enrollment date's offset and the site from `index`.
    """
    values = random.Random(f"timetravel:{seed}:shape:{shape}")
    ids = random.Random(f"timetravel:{seed}:participant:{index}")
    start = FIRST_ENROLLMENT + timedelta(days=ids.randrange(0, 120))
    site = SITES[index % len(SITES)]
    out: list[NewEntry] = []

    def add(body: dict[str, Any]) -> NewEntry:
        new = _entry(body, ids)
        out.append(new)
        return new

    def iso(day: int) -> str:
        return (start + timedelta(days=day)).isoformat()

    add(story.enrollment(site_id=site, on=iso(0), consented_on=iso(-values.randrange(0, 7)),
                         sex=values.choice("FM"), birth_year=values.randrange(1940, 1990),
                         ecog=values.randrange(0, 2),
                         afp_ng_ml=round(values.uniform(5, 4000), 1)))
    recist = [round(values.uniform(25, 80), 1), round(values.uniform(12, 40), 1)]
    mrecist = [round(d * values.uniform(0.6, 0.95), 1) for d in recist]
    add(story.scan(iso(2), baseline=True, recist_mm=recist, mrecist_mm=mrecist))
    trend = values.uniform(0.80, 1.02)  # some shapes respond, some progress
    factor, cycle, ae = 1.0, 0, 0
    while len(out) < n_events:
        day = 7 + 21 * cycle
        cycle += 1
        mis_keyed = cycle % 13 == 5
        dose = add(story.camrelizumab(iso(day), cycle=cycle, dose_mg=20 if mis_keyed else 200))
        if cycle % 6 == 1:
            add(story.tace(iso(day + 1)))
        add(story.apatinib(iso(day + 1), end_on=iso(day + 20)))
        if cycle % 2 == 0:
            factor = max(0.05, factor * values.uniform(trend - 0.08, trend + 0.08))
            add(story.scan(iso(day + 2), baseline=False,
                           recist_mm=[round(d * factor, 1) for d in recist],
                           mrecist_mm=[round(d * factor * 0.9, 1) for d in mrecist]))
        if mis_keyed:
            add(story.correction(dose.event_id, iso(day),
                                 story.camrelizumab("", cycle=cycle)["data"],
                                 reason="dose mis-keyed: 20 mg entered for 200 mg"))
        if cycle % 4 == 3:
            ae += 1
            ae_id = f"AE{ae}"
            add(story.adverse_event(ae_id, iso(day + 4), grade=values.choice((1, 2))))
            add(story.ae_update(ae_id, iso(day + 8), grade=3))
            add({"type": "DoseModified", "occurred_on": iso(day + 8),
                 "data": {"drug": "apatinib", "action": "interrupted",
                          "reason": "grade 3 hypertension", "adverse_event_id": ae_id}})
            add(story.ae_resolved(ae_id, iso(day + 14)))
            add({"type": "DoseModified", "occurred_on": iso(day + 15),
                 "data": {"drug": "apatinib", "action": "resumed", "reason": "AE resolved"}})
        contact = add(story.follow_up(iso(day + 10)))
        if cycle % 17 == 9:
            add(story.void(contact.event_id, iso(day + 10),
                           reason="duplicate entry of the same contact"))
            add(story.follow_up(iso(day + 11)))
    if out[-1].occurred_on >= TODAY:
        raise SystemExit(f"--events-per {n_events} is too long a history for TODAY={TODAY}")
    return out[:n_events]


def append_validated(participant: Participant, entry: NewEntry) -> None:
    """`Participant.record` without its rule check, for an entry whose shape passed it (see
    the module docstring for why the rules' verdict carries over)."""
    participant.append(entry)


def _validate_shape(job: tuple[int, int, int]) -> tuple[int, float, str | None]:
    """Build one shape's history in full through Participant.enroll / record."""
    shape, n_events, seed = job
    entries = history(shape, -1 - shape, n_events, seed)
    started = time.perf_counter()
    try:
        participant = Participant.enroll(f"TEMPLATE-{shape}", entries[0], today=TODAY)
        for entry in entries[1:]:
            participant.record(entry, today=TODAY)
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        return shape, time.perf_counter() - started, f"{type(error).__name__}: {error}"
    return shape, time.perf_counter() - started, None


def validate_shapes(shapes: int, n_events: int, seed: int, workers: int, deadline: Deadline
                    ) -> dict[str, Any]:
    """Every shape through the full rules, in `workers` processes; raises if one fails."""
    import domain.participant_outcome  # noqa: F401 - imported with scipy before timing

    started = time.perf_counter()
    jobs = [(shape, n_events, seed) for shape in range(shapes)]
    if workers > 1 and shapes > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_validate_shape, jobs))
    else:
        results = [_validate_shape(job) for job in jobs]
    deadline.check("template validation")
    failed = [f"shape {shape}: {error}" for shape, _, error in results if error]
    if failed:
        raise SystemExit("a generated history broke the domain rules:\n" + "\n".join(failed))
    per = [seconds for _, seconds, _ in results]
    return {"shapes": shapes, "events_per_history": n_events, "workers": workers,
            "wall_s": time.perf_counter() - started,
            "record_s_per_history_mean": sum(per) / len(per),
            "record_ms_per_entry_mean": 1000 * sum(per) / len(per) / max(1, n_events - 1)}


@dataclass
class Workload:
    participants: int
    events_per: int
    seed: int
    shapes: int
    chunk: int
    ids: list[str] = field(default_factory=list)
    histories: list[list[NewEntry]] = field(default_factory=list)

    @classmethod
    def build(cls, participants: int, events_per: int, seed: int, shapes: int, chunk: int
              ) -> Workload:
        workload = cls(participants, events_per, seed, shapes, chunk)
        for i in range(participants):
            workload.ids.append(f"HCC-{SITES[i % len(SITES)][1:]}-{i + 1:05d}")
            workload.histories.append(history(i % shapes, i, events_per, seed))
        return workload

    def plan(self, participants: int) -> list[list[tuple[int, int, int]]]:
        """Rounds of (participant index, first entry, end): shuffled order each round, a
        random 50-150% of `chunk` entries each, until every history is saved."""
        rng = random.Random(f"timetravel:{self.seed}:plan:{participants}")
        done = [0] * participants
        rounds = []
        low, high = max(1, self.chunk // 2), max(1, self.chunk * 3 // 2)
        while True:
            order = [i for i in range(participants) if done[i] < self.events_per]
            if not order:
                return rounds
            rng.shuffle(order)
            this = []
            for i in order:
                end = min(self.events_per, done[i] + rng.randint(low, high))
                this.append((i, done[i], end))
                done[i] = end
            rounds.append(this)


# -- stores ---------------------------------------------------------------------------------


def _require_loopback(url: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(url).host or "127.0.0.1"
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"--pg-url must name a server on 127.0.0.1 (got host {host!r})")


@contextlib.contextmanager
def fresh_store(kind: str, pg_admin_url: str, label: str, workdir: Path) -> Iterator[str]:
    """A new, empty store's URL (bench.ingest's helper); removed afterwards."""
    with ingest_fresh_store(kind, pg_admin_url, f"tt_{label}", workdir) as store:
        _log(f"using {store.get('dbname') or store['url']}")
        yield store["url"]

@dataclass
class Opened:
    ledger: Any
    engine: Any

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ledger.close()
        self.engine.dispose()


def open_ledger(url: str) -> Opened:
    from infra.db import create_engine
    from infra.migrate import upgrade
    from infra.settings import Settings
    from services.application import TrialLedger

    upgrade(url)
    alphabet = string.ascii_letters + string.digits
    settings = Settings(database_url=url,
                        jwt_secret="".join(secrets.choice(alphabet) for _ in range(48)))
    engine = create_engine(settings.database, pool_size=settings.pool_size)
    return Opened(TrialLedger(settings, engine), engine)


def populate(opened: Opened, workload: Workload, participants: int, validate_all: bool,
             deadline: Deadline, what: str) -> dict[str, Any]:
    """Build each participant on its aggregate and save it once per round (see docstring)."""
    ledger = opened.ledger
    aggregates: list[Participant | None] = [None] * participants
    build_s = save_s = 0.0
    saves = events = 0
    cpu0, started = time.process_time(), time.perf_counter()
    last_log = started
    rounds = workload.plan(participants)
    for number, this_round in enumerate(rounds, 1):
        for i, first, end in this_round:
            t0 = time.perf_counter()
            participant = aggregates[i]
            for entry in workload.histories[i][first:end]:
                if participant is None:
                    participant = Participant.enroll(workload.ids[i], entry, today=TODAY)
                elif validate_all:
                    participant.record(entry, today=TODAY)
                else:
                    append_validated(participant, entry)
            t1 = time.perf_counter()
            ledger.save(participant)
            t2 = time.perf_counter()
            aggregates[i] = participant
            build_s += t1 - t0
            save_s += t2 - t1
            saves += 1
            events += end - first
            if t2 - last_log > 15:
                last_log = t2
                _log(f"  {what}: round {number}/{len(rounds)}, {events} events saved")
                deadline.check(f"population of {what}")
        deadline.check(f"population of {what}")
    wall = time.perf_counter() - started
    return {"participants": participants, "events": events, "rounds": len(rounds),
            "saves": saves, "events_per_save_mean": events / max(1, saves),
            "wall_s": wall, "cpu_s": time.process_time() - cpu0, "domain_build_s": build_s,
            "save_s": save_s,
            "save_events_per_s": events / save_s if save_s else None,
            "validate": "all" if validate_all else "templates"}


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


# -- reads ----------------------------------------------------------------------------------


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
    pairs, rejected = [], 0
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
        "version_read": {"min": versions[0], "p50": _percentile(versions, 50),
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
        "ratio_pit_p50_over_peer_same_p50": _ratio(pit_stats["p50_ms"], same_stats["p50_ms"]),
        "ratio_pit_p50_over_peer_whole_p50": _ratio(pit_stats["p50_ms"],
                                                    whole_stats["p50_ms"]),
        "ratio_pit_p95_over_peer_whole_p95": _ratio(pit_stats["p95_ms"],
                                                    whole_stats["p95_ms"]),
        "ratio_pit_cpu_p95_over_peer_whole_cpu_p95": _ratio(pit_stats.get("cpu_p95_ms"),
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


# -- rebuild and its peer --------------------------------------------------------------------


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
            _log(f"  rebuild: {applied}/{expected} events, "
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


def _profile(label: str, func: Callable[[], Any], top: int = 25) -> str:
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


# -- one store kind ---------------------------------------------------------------------------


def bench_store(result: dict[str, Any], args: argparse.Namespace, workload: Workload,
                deadline: Deadline, workdir: Path) -> None:
    """Fills `result` as it goes, so a timeout or failure still reports what was measured."""
    kind = result["store"]
    total = workload.participants * workload.events_per
    with fresh_store(kind, args.pg_url, "main", workdir) as url:
        opened = open_ledger(url)
        try:
            _log(f"{kind}: populating {workload.participants} x {workload.events_per} events")
            result["population"] = populate(opened, workload, workload.participants,
                                            args.validate == "all", deadline, f"{kind} main")
            lo, hi, enrolled, count = recorded_range(opened.engine)
            result["population"].update(
                recorded_from=lo.isoformat(), recorded_to=hi.isoformat(),
                recorded_span_s=(hi - lo).total_seconds(), stored_events=count)
            if count != total:
                result.setdefault("problems", []).append(
                    f"store holds {count} events, expected {total}")
            _log(f"{kind}: populated in {result['population']['wall_s']:.1f} s; "
                 f"{args.reads} point-in-time reads")
            pairs, rejected = sample_pairs(opened, args.reads, args.seed, lo, hi, enrolled)
            result["reads"] = timed_reads(opened, pairs, deadline, workload.events_per)
            result["reads"]["rejected_samples"] = rejected
            result["snapshot_storage"] = snapshot_storage(opened.engine)
            if result["reads"]["wrong_count"]:
                result.setdefault("problems", []).append(
                    f"{result['reads']['wrong_count']} reads were wrong (their version, or "
                    "not the answer of a full fold)")
            _log(f"{kind}: raw read + decode of the main store ({count} events)")
            result["raw_decode_main"] = raw_decode(opened, deadline)
            rebuild_all = args.rebuild_events is None or args.rebuild_events >= total
            if rebuild_all:
                result["rebuild"] = {"store": "main store (full log)", "events": total}
                _rebuild_with_peer(result["rebuild"], opened, deadline, kind, args)
            if args.profile:
                sys.stderr.write(_profile(f"{kind}: 50 point-in-time reads",
                                          lambda: _profile_reads(opened, pairs[:50])))
        finally:
            opened.close()
    if not rebuild_all:
        n_participants = min(workload.participants,
                             math.ceil(args.rebuild_events / workload.events_per))
        events = n_participants * workload.events_per
        with fresh_store(kind, args.pg_url, "rebuild", workdir) as url:
            opened = open_ledger(url)
            try:
                _log(f"{kind}: separate rebuild store, {n_participants} x "
                     f"{workload.events_per} = {events} events")
                result["rebuild"] = {
                    "store": f"SUBSET: a separate store of the first {n_participants} "
                             f"participants x {workload.events_per} events; the main log of "
                             f"{total} events was not rebuilt",
                    "events": events}
                result["rebuild"]["population"] = populate(
                    opened, workload, n_participants, args.validate == "all", deadline,
                    f"{kind} rebuild store")
                _rebuild_with_peer(result["rebuild"], opened, deadline, kind, args)
            finally:
                opened.close()
    rebuild_result = result["rebuild"]
    if not rebuild_result["rebuild"]["ok"]:
        result.setdefault("problems", []).append(
            f"rebuild applied {rebuild_result['rebuild']['events']} events and wrote "
            f"{rebuild_result['rebuild']['audit_feed_rows']} audit rows, expected "
            f"{rebuild_result['events']}")


def _rebuild_with_peer(out: dict[str, Any], opened: Opened, deadline: Deadline, kind: str,
                       args: argparse.Namespace) -> None:
    """Peer and rebuild alternately, --repeat times each, on the same store: the figures are
    the medians, with every run and the spread of the per-pair ratios kept."""
    events = out["events"]
    peers, rebuilds, ratios = [], [], []
    for run in range(1, args.repeat + 1):
        _log(f"{kind}: peer raw read + decode of the rebuild's {events} events ({run}/"
             f"{args.repeat})")
        peers.append(raw_decode(opened, deadline))
        _log(f"{kind}: rebuild of {events} events ({run}/{args.repeat})")
        rebuilds.append(timed_rebuild(opened, deadline, events))
        ratios.append(_ratio(rebuilds[-1]["events_per_s"], peers[-1]["events_per_s"]))
    out["peer_raw_decode"] = peer = _median_run(peers)
    out["rebuild"] = rebuilt = _median_run(rebuilds)
    rebuilt["ok"] = all(r["ok"] for r in rebuilds)
    out["ratio_rebuild_over_raw_decode"] = _ratio(rebuilt["events_per_s"],
                                                  peer["events_per_s"])
    out["ratio_rebuild_over_raw_decode_runs"] = ratios
    out["ratio_rebuild_over_raw_decode_cpu"] = _ratio(peer["cpu_s"], rebuilt["cpu_s"])
    _log(f"{kind}: rebuild {rebuilt['events_per_s']:.0f} events/s, raw decode "
         f"{peer['events_per_s']:.0f} events/s (medians of {args.repeat})")
    if args.profile:
        sys.stderr.write(_profile(f"{kind}: one more rebuild of {events} events",
                                  lambda: timed_rebuild(opened, deadline, events)))
        sys.stderr.write(_profile(f"{kind}: one more peer read + decode of {events} events",
                                  lambda: raw_decode(opened, deadline)))


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, with every run's events/s beside it."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs_events_per_s"] = [round(r["events_per_s"]) for r in runs]
    return median


def _profile_reads(opened: Opened, pairs: Sequence[Pair]) -> None:
    for pair in pairs:
        read_casebook(opened.ledger, pair.pid, pair.as_of)


# -- output -------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def render(doc: dict[str, Any]) -> str:
    lines = []
    w = doc["workload"]
    lines.append(f"time-travel benchmark: {w['participants']} participants x "
                 f"{w['events_per']} events = {w['events']} events; {w['reads']} reads; "
                 f"seed {w['seed']}")
    v = doc.get("validation")
    if v:
        lines.append(
            f"domain: {v['shapes']} history shapes built in full through Participant.record "
            f"({v['record_s_per_history_mean']:.2f} s per {v['events_per_history']}-event "
            f"history, {v['record_ms_per_entry_mean']:.1f} ms per entry); participants "
            f"built with Participant.enroll + record-without-recheck (--validate templates)")
        full = v["record_s_per_history_mean"] * w["participants"]
        lines.append(f"        a full Participant.record population of this size would take "
                     f"~{full:.0f} CPU s")
    else:
        lines.append("domain: every entry of every participant through Participant.record "
                     "(--validate all)")
    for r in doc["stores"]:
        lines.append("")
        lines.append(f"== {r['store']} ({doc['versions'].get(r['store'], '')})"
                     + (f"  FAILED: {r['error']}" if "error" in r else ""))
        p = r.get("population")
        if p and "recorded_span_s" in p:
            lines.append(
                f"population: {p['events']} events in {p['saves']} saves over {p['rounds']} "
                f"rounds (~{p['events_per_save_mean']:.0f} events/save): {p['wall_s']:.1f} s "
                f"(this process' CPU {p['cpu_s']:.1f} s; domain build {p['domain_build_s']:.1f} s, "
                f"ledger.save {p['save_s']:.1f} s "
                f"= {p['save_events_per_s']:.0f} events/s); recorded over "
                f"{p['recorded_span_s']:.1f} s")
        rd = r.get("reads")
        if rd:
            vr = rd["version_read"]
            lines.append(f"reads: {rd['pairs']} (participant, T) pairs, version at T "
                         f"min {vr['min']} / median {vr['p50']:.0f} / mean {vr['mean']:.0f} / "
                         f"max {vr['max']} ({rd.get('rejected_samples', 0)} samples rejected: "
                         f"not yet enrolled at T)")
            lines.append(f"  {'latency (ms)':<60}{'p50':>9}{'p95':>9}{'mean':>9}{'n':>6}"
                         f"{'cpu p50':>9}")

            def row(label: str, s: dict[str, Any]) -> None:
                lines.append(f"  {label:<60}{_ms(s['p50_ms']):>9}{_ms(s['p95_ms']):>9}"
                             f"{_ms(s['mean_ms']):>9}{s['n']:>6}{_ms(s.get('cpu_p50_ms')):>9}")

            row("point-in-time casebook, as GET /participants/{id}?as_of=T", rd["point_in_time"])
            steps = rd["point_in_time_steps"]
            row("  step: point_in_time (1 statement, verify, decode, fold)", steps["load"])
            row("  step: casebook(participant, cached outcome views)", steps["casebook"])
            row("before snapshots: full fold + full derivation", steps["legacy"])
            row("peer: select_events(pid, lte=v) + decode (same events)",
                rd["peer_same_events"])
            row("peer: select_events(pid) + decode (whole stream)", rd["peer_whole_stream"])
            row("current casebook, as GET /participants/{id}", rd["current"])
            sn = rd["snapshots"]
            lines.append(f"  snapshots: {sn['started_from_snapshot']}/{sn['reads']} reads started "
                         f"from one, events folded after it mean {sn['events_folded_mean']:.1f} "
                         f"/ max {sn['events_folded_max']}; stored outcome views used in "
                         f"{sn['outcome_views_used']}/{sn['reads']}")
            storage = r.get("snapshot_storage")
            if storage:
                kinds = ", ".join(f"{k} {v['rows']} rows {v['bytes'] / 1e6:.1f} MB"
                                  for k, v in sorted(storage["by_kind"].items()))
                lines.append(f"  snapshot storage: {kinds}; stored events "
                             f"{storage['stored_event_bytes'] / 1e6:.1f} MB")
            lines.append(f"  ratio point-in-time / peer: p50 "
                         f"{_x(rd['ratio_pit_p50_over_peer_same_p50'])} (same events), "
                         f"{_x(rd['ratio_pit_p50_over_peer_whole_p50'])} (whole stream); "
                         f"p95 {_x(rd['ratio_pit_p95_over_peer_whole_p95'])} (whole stream; "
                         "target <= 0.5x); in CPU time, p95 "
                         f"{_x(rd.get('ratio_pit_cpu_p95_over_peer_whole_cpu_p95'))}")
        rb = r.get("rebuild")
        if rb or r.get("raw_decode_main"):
            lines.append(f"rebuild ({rb['store'] if rb else 'not measured'}):")
            lines.append(f"  {'throughput':<60}{'events':>9}{'s':>9}{'events/s':>10}"
                         f"{'cpu s':>9}")
            measured = [("projections.state.rebuild (median run)", rb and rb.get("rebuild")),
                        ("peer: iter_stored + to_domain_event (same events, median)",
                         rb and rb.get("peer_raw_decode")),
                        ("raw read + decode, main store", r.get("raw_decode_main"))]
            for label, s in measured:
                if s:
                    lines.append(f"  {label:<60}{s['events']:>9}{s['seconds']:>9.2f}"
                                 f"{s['events_per_s']:>10.0f}{s['cpu_s']:>9.2f}")
            ratio = rb.get("ratio_rebuild_over_raw_decode") if rb else None
            if ratio:
                runs = [r for r in rb.get("ratio_rebuild_over_raw_decode_runs", []) if r]
                spread = (f", runs {min(runs):.3g}-{max(runs):.3g}x over {len(runs)} "
                          "alternating pairs" if runs else "")
                lines.append(f"  ratio rebuild / raw decode (events/s, medians): {_x(ratio)}"
                             f"{spread}; in CPU time "
                             f"{_x(rb.get('ratio_rebuild_over_raw_decode_cpu'))}")
                for label, s in (("  rebuild runs (events/s)", rb.get("rebuild")),
                                 ("  peer runs (events/s)", rb.get("peer_raw_decode"))):
                    if s and s.get("runs_events_per_s"):
                        lines.append(f"{label:<62}{s['runs_events_per_s']}")
        for problem in r.get("problems", []):
            lines.append(f"PROBLEM: {problem}")
    lines.append("")
    lines.append("cpu = this process' CPU time (SQLite: includes the database's work; "
                 "PostgreSQL: excludes the server's). Wall >> cpu means waiting: on the "
                 "database, or for a CPU on a loaded machine.")
    lines.append(f"machine: {doc['machine']['cpus']} CPUs, load {doc['machine']['loadavg']}, "
                 f"python {doc['machine']['python']}; total {doc['elapsed_s']:.0f} s "
                 f"(load at the end {doc['machine'].get('loadavg_end')})")
    return "\n".join(lines)


def _versions(pg_url: str, kinds: Sequence[str]) -> dict[str, str]:
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
        _require_loopback(args.pg_url)
    deadline = Deadline(args.timeout)

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
        "versions": _versions(args.pg_url, kinds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg": _loadavg()},
        "stores": [],
    }
    status = 0
    try:
        if args.validate == "templates":
            shapes = min(args.templates, args.participants)
            _log(f"validating {shapes} history shapes of {args.events_per} events through "
                 f"Participant.record ({args.workers} processes)")
            doc["validation"] = validate_shapes(shapes, args.events_per, args.seed,
                                                args.workers, deadline)
            _log(f"  done in {doc['validation']['wall_s']:.1f} s")
        shapes = args.templates if args.validate == "templates" else args.participants
        _log(f"generating {args.participants} histories")
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
                    _log(f"{kind} failed: {type(error).__name__}: {error}")
                    result["error"] = f"{type(error).__name__}: {error}"
                    status = 1
    except BenchTimeout as error:
        doc["timeout"] = str(error)
        _log(str(error))
        status = 1
    finally:
        signal.alarm(0)
    doc["elapsed_s"] = time.perf_counter() - started
    doc["machine"]["loadavg_end"] = _loadavg()
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


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
