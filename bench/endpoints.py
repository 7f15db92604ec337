"""Endpoints for both criteria read from the store, with lifelines as the peer.

    .venv/bin/python -m bench.endpoints [--store sqlite|postgresql|both] [--participants 1000]
        [--seed 2026] [--repeat 5] [--in-memory] [--json] [--json-file PATH]

For each store kind: a fresh store filled with a synthetic trial (services.seed.plan_trial,
folded in memory and saved through the real recorder and hash chain in two rounds: the first
half of every participant's history, then the rest, so that a recorded time between the rounds
sees every participant part-way), projected once (the projector derives the outcome read
model), then timed:

- **ours, now**: `services.study_outcomes.study_outcomes` (one select of the outcome rows true
  now, plus folding any participant the projector has not reached) and the endpoints report for
  RECIST 1.1 and mRECIST at the seed's data cutoff: populations, ORR/DCR with Clopper-Pearson
  CIs, Kaplan-Meier OS/PFS/DOR with log-log CIs, medians with Brookmeyer-Crowley limits and
  landmark rates. Exactly what `GET /api/v1/endpoints` computes, without HTTP.
- **ours, past**: the same as of the recorded time between the two rounds, at a cutoff 120 days
  before the seed's.
- **peer**: lifelines `KaplanMeierFitter` fitting the same OS and PFS (both criteria) curves
  from the times ours derived (the statistics alone, from data already in memory).

`--in-memory` adds the old path for reference: every participant folded in memory and every
response re-derived (`domain.study_reports.study_endpoints`). Medians of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import DEFAULT_PG_URL
from domain.analysis.kaplan_meier import fit_kaplan_meier
from domain.protocol import CRITERIA
from services.seed import DATA_CUTOFF, fold_plan, plan_trial

PAST_CUTOFF = DATA_CUTOFF - timedelta(days=120)
CHUNK = 50
"""Participants whose events one `save` stores (one transaction each)."""


def _timed(repeat: int, work: Any) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def _fill(opened: Any, participants: list[Any]) -> tuple[str, int]:
    """Save every participant's pending events in two rounds; the recorded time between."""
    pending = [p.collect_events() for p in participants]
    halves = [(events[: max(1, len(events) // 2)], events[max(1, len(events) // 2):])
              for events in pending]
    for round_ in (0, 1):
        for start in range(0, len(halves), CHUNK):
            batch = [e for pair in halves[start:start + CHUNK] for e in pair[round_]]
            if batch:
                opened.ledger.save(*batch)
        if round_ == 0:
            head = opened.ledger.store.head()
            between = head.recorded_at
    return between, sum(len(e) for e in pending)


def _curves(outcomes: list[Any], cutoff: Any) -> list[list[Any]]:
    enrolled = [o for o in outcomes if o.enrolled_on <= cutoff]
    summaries = {c: [o.summary(c, cutoff) for o in enrolled] for c in CRITERIA}
    first = summaries[CRITERIA[0]]
    return [[s.os for s in first if s.os is not None]] + [
        [s.pfs for s in summaries[c] if s.pfs is not None] for c in CRITERIA]


def bench_store(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter

    from bench.stores import fresh_store_url, open_ledger
    from projections.runner import Projector
    from projections.state import REBUILD_BATCH
    from services.study_outcomes import endpoints, study_outcomes

    out: dict[str, Any] = {"store": kind}
    with fresh_store_url(kind, args.pg_url, "endpoints", workdir) as url:
        opened = open_ledger(url)
        try:
            started = time.perf_counter()
            folded = fold_plan(plan_trial(participants=args.participants, seed=args.seed))
            between, events = _fill(opened, folded)
            out["events"], out["fill_s"] = events, round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            Projector(opened.ledger, opened.engine).catch_up(limit=REBUILD_BATCH)
            out["projection_s"] = round(time.perf_counter() - started, 1)
            moment = datetime.now(UTC)

            def now() -> dict[str, Any]:
                read = study_outcomes(opened.ledger, opened.engine, None, None)
                return {c: endpoints(read, c, DATA_CUTOFF, moment) for c in CRITERIA}

            def past() -> dict[str, Any]:
                read = study_outcomes(opened.ledger, opened.engine, None, between)
                return {c: endpoints(read, c, PAST_CUTOFF, moment) for c in CRITERIA}

            curves = _curves(study_outcomes(opened.ledger, opened.engine, None, None),
                             DATA_CUTOFF)

            def lifelines_fits() -> list[float]:
                medians = []
                for times in curves:
                    fitter = KaplanMeierFitter().fit([t.days for t in times],
                                                     [t.event for t in times])
                    medians.append(float(fitter.median_survival_time_))
                    fitter.confidence_interval_  # noqa: B018 - computed lazily; part of the fit
                return medians

            # Interleaved, so that load on the machine falls on all three alike.
            runs: dict[str, list[float]] = {"now": [], "past": [], "peer": []}
            results: dict[str, Any] = {}
            for _ in range(args.repeat):
                for name, work in (("now", now), ("past", past), ("peer", lifelines_fits)):
                    started = time.perf_counter()
                    results[name] = work()
                    runs[name].append(time.perf_counter() - started)
            now_s, now_runs, reports = statistics.median(runs["now"]), runs["now"], results["now"]
            past_s, past_runs, past_reports = (statistics.median(runs["past"]), runs["past"],
                                               results["past"])
            peer_s, peer_runs, medians = (statistics.median(runs["peer"]), runs["peer"],
                                          results["peer"])
            stats_s, _, _ = _timed(args.repeat, lambda: [
                fit_kaplan_meier([t.days for t in times], [t.event for t in times])
                for times in curves])
            out.update({
                "ours_now_s": round(now_s, 4), "ours_now_runs": [round(t, 4) for t in now_runs],
                "ours_past_s": round(past_s, 4),
                "ours_past_runs": [round(t, 4) for t in past_runs],
                "lifelines_s": round(peer_s, 4), "lifelines_runs": [round(t, 4) for t in peer_runs],
                "ours_km_fits_only_s": round(stats_s, 4),
                "ratio_now_over_lifelines": round(now_s / peer_s, 2),
                "ratio_past_over_lifelines": round(past_s / peer_s, 2),
                "orr_now": {c: reports[c]["orr"]["rate"] for c in CRITERIA},
                "orr_past": {c: past_reports[c]["orr"]["rate"] for c in CRITERIA},
                "enrolled_past": past_reports[CRITERIA[0]]["population"]["enrolled"],
                "median_os_days_lifelines": medians[0],
            })
            if args.in_memory:
                from domain.study_reports import study_endpoints

                old_s, _, old = _timed(1, lambda: {
                    c: study_endpoints(folded, c, DATA_CUTOFF, moment) for c in CRITERIA})
                out["in_memory_rederived_s"] = round(old_s, 3)
                out["in_memory_equal"] = all(
                    {**old[c], "as_of": None} == {**reports[c], "as_of": None} for c in CRITERIA)
        finally:
            opened.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--in-memory", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--json-file")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-endpoints-") as tmp:
        for kind in kinds:
            results.append(bench_store(kind, args, Path(tmp)))
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        print(f"== {result['store']}")
        for key, value in result.items():
            print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
