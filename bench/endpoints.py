"""Full endpoint computation for a synthetic trial, with lifelines as the peer.

    .venv/bin/python -m bench.endpoints [--participants 1000] [--seed 2026] [--repeat 3] [--json]

Ours: `domain.outcomes.study_endpoints` for RECIST 1.1 and mRECIST (per participant: baseline
and follow-up selection, time-point responses, best overall response, PFS/OS/DOR derivation;
then Clopper-Pearson CIs and Kaplan-Meier with log-log CIs, medians, Brookmeyer-Crowley limits
and landmark rates). Peer, in the same run: lifelines `KaplanMeierFitter` fitting the same PFS
(both criteria) and OS durations that ours derived, i.e. the statistics alone. The ratio shows
what the whole derivation costs over a bare survival fit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from domain.analysis.kaplan_meier import fit_kaplan_meier
from domain.outcomes import participant_outcome, study_endpoints
from domain.protocol import CRITERIA
from services.seed import DATA_CUTOFF, fold_plan, plan_trial


def _timed(repeat: int, work: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run(participants: int, seed: int, repeat: int) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter

    started = time.perf_counter()
    folded = fold_plan(plan_trial(participants=participants, seed=seed))
    build_s = time.perf_counter() - started
    as_of = datetime.now(UTC)

    ours_s, reports = _timed(repeat, lambda: {
        c: study_endpoints(folded, c, DATA_CUTOFF, as_of) for c in CRITERIA})

    outcomes = [participant_outcome(p, DATA_CUTOFF) for p in folded]
    curves = [[o.os for o in outcomes if o.os is not None]] + [
        [o.by_criterion[c].pfs for o in outcomes if o.by_criterion[c].pfs is not None]
        for c in CRITERIA]

    def lifelines_fits() -> list[float]:
        medians = []
        for times in curves:
            fitter = KaplanMeierFitter().fit([t.days for t in times],
                                             [t.event for t in times])
            medians.append(float(fitter.median_survival_time_))
            fitter.confidence_interval_  # noqa: B018 - computed lazily; part of the fit
        return medians

    peer_s, medians = _timed(repeat, lifelines_fits)
    ours_stats_s, _ = _timed(repeat, lambda: [
        fit_kaplan_meier([t.days for t in times], [t.event for t in times]) for times in curves])
    return {
        "participants": participants, "seed": seed, "repeat": repeat,
        "events_in_memory": sum(p.version for p in folded), "build_s": round(build_s, 3),
        "ours_full_endpoints_s": round(ours_s, 4),
        "ours_km_fits_only_s": round(ours_stats_s, 4),
        "lifelines_km_fits_s": round(peer_s, 4),
        "ratio_full_over_lifelines": round(ours_s / peer_s, 1),
        "ratio_km_over_lifelines": round(ours_stats_s / peer_s, 2),
        "orr": {c: reports[c]["orr"]["rate"] for c in CRITERIA},
        "median_os_days_lifelines": medians[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.participants, args.seed, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
