"""bench.timetravel's printed report: one block per store (population, the reads and their
peers, the snapshots, the rebuild and its peer, the ratios) from the JSON document.
"""

from __future__ import annotations

from typing import Any

from bench.harness import fmt


def _ms(value: float | None) -> str:
    return fmt(value, ".2f")


def _x(value: float | None) -> str:
    return fmt(value, ".3g", "x")


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
