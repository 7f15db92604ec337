"""bench.ingest's results: the checks that decide its exit status, the ratios between its
rows, the table printed per store, the bare web stack's figures, and the write-path targets
printed under each table beside the measured figures (for reading, not an assertion).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from bench.harness import fmt
from bench.ingest_batch import batch_order, max_in_flight

if TYPE_CHECKING:
    from bench.ingest_workload import Workload

TARGET_PEER_RATIO = {"postgresql": 6.0, "sqlite": 1.5}
TARGET_CPU_MS = 1.0
TARGET_P99_MS = 50.0
TARGET_P99_CLIENTS = 16  # the p99 target is stated at 16 clients
TARGET_BATCH_RATIO = 10.0


# -- checks and ratios -------------------------------------------------------------------


def check_result(kind: str, result: dict[str, Any], args: argparse.Namespace,
                 workload: Workload) -> list[str]:
    """Add the ratios to `result`; return what went wrong (errors, verify, peer, timeout)."""
    ours, peer, batch = result["ours"], result["peer"], result.get("batch")
    result["ratio_ours_to_peer"] = row_ratio(ours, peer)
    if batch is not None:
        result["ratio_batch_to_peer"] = row_ratio(batch, peer)
        result["ratio_batch_to_single"] = row_ratio(batch, ours)
        result["batches_in_flight"] = max_in_flight(
            batch_order(workload.events, args.batch)[1], args.clients)
    failed = []
    for name, row in (("batch", batch), ("ours", ours)):
        if row is None:
            continue
        what = "batch items" if name == "batch" else "POSTs"
        if row["errors"]:
            failed.append(f"{kind} {name}: {row['errors']} of {row['attempted']} {what} did not "
                          f"answer 201 ({row['statuses']}); samples: {row['error_samples']}")
        if not row["finished"]:
            failed.append(f"{kind} {name}: the timed phase was cut short by --timeout")
        verify = row.get("verify", {})
        if not verify.get("ok") or verify.get("events") != verify.get("expected_events"):
            failed.append(f"{kind} {name}: ledger verify {verify}")
    if peer["errors"] or peer["stored_events"] != peer["expected_events"]:
        failed.append(f"{kind}: peer errors {peer['errors']}, stored "
                      f"{peer['stored_events']} of {peer['expected_events']}")
    return failed


# -- tables ---------------------------------------------------------------------------------


def print_table(kind: str, result: dict[str, Any], args: argparse.Namespace) -> None:
    ours, peer, batch = result["ours"], result["peer"], result.get("batch")
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    processes = ours.get("server_processes")
    print(f"\n{title}: {args.events} events over {args.participants} participants, "
          f"{args.clients} concurrent clients/threads; server --workers {args.workers} "
          + (f"(CPU summed over its {processes} processes)" if processes != 1
             else "(CPU of its one process)"))
    if batch is not None:
        print(f"batch route: {batch['requests']} requests of up to {args.batch} events, at most "
              f"{result.get('batches_in_flight')} in flight (a batch waits for the earlier "
              "batches of its participants); its latency is per request")
    header = (f"{'':40}{'events/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
              f"{'CPU ms/ev':>11}")
    print(header)
    print("-" * len(header))
    rows = [("ours (HTTP, chain, validation, auth)", ours), ("peer (library, in-process)", peer)]
    if batch is not None:
        rows.insert(0, (f"ours, batch route ({args.batch}/request)", batch))
    for label, row in rows:
        lat = row["latency_ms"]
        print(f"{label:40}{_fmt(row['events_per_second']):>10}{_fmt(lat['p50'], 2):>9}"
              f"{_fmt(lat['p95'], 2):>9}{_fmt(lat['p99'], 2):>9}{row['errors']:>8}"
              f"{_fmt(row.get('server_cpu_ms_per_event'), 2):>11}")
    print(f"{'ratio ours/peer':40}{_fmt(result['ratio_ours_to_peer'], 3):>10}")
    if batch is not None:
        print(f"{'ratio batch/peer':40}{_fmt(result['ratio_batch_to_peer'], 3):>10}")
        print(f"{'ratio batch/single-event':40}{_fmt(result['ratio_batch_to_single'], 3):>10}")
    for label, row in ([("batch", batch)] if batch is not None else []) + [("ours", ours)]:
        verify = row.get("verify", {})
        print(f"ledger verify ({label}): ok={verify.get('ok')} events={verify.get('events')} "
              f"(expected {verify.get('expected_events')})")
    floor = ours.get("http_floor")
    if floor:
        print(f"HTTP floor, same server and clients: GET /health {floor['per_second']:,} "
              f"requests/s, {_fmt(floor['server_cpu_ms_per_request'], 2)} ms of server CPU "
              f"per request ({floor['failures']} failures)")
    print(f"peer stored {peer.get('stored_events')} (expected {peer.get('expected_events')})")
    loads = [f"ours {ours.get('loadavg_1m_before')}", f"peer {peer.get('loadavg_1m_before')}"]
    if batch is not None:
        loads.insert(0, f"batch {batch.get('loadavg_1m_before')}")
    print(f"1-min load average before the timed phases: {', '.join(loads)} "
          f"({os.cpu_count()} CPUs); server log lines by level: {ours.get('server_log')}"
          + ("" if batch is None else f", batch server: {batch.get('server_log')}"))
    for label, row in (("batch", batch or {}), ("ours", ours), ("peer", peer)):
        for sample in row.get("error_samples", []):
            print(f"  error ({label}): {sample}")
        if row.get("server_errors"):
            print(f"  server log errors ({label}):\n{row['server_errors']}")
    print(targets_line(kind, result, args.clients))


def print_bare_floor(floor: dict[str, Any], clients: int) -> None:
    """The bare FastAPI app's figures, and what they leave of the single-event targets."""
    get, post = floor["get"], floor["post"]
    print(f"\nbare FastAPI app (bench.bare_http: same body validated, no storage), "
          f"{clients} clients, one process:")
    for label, row in (("GET /health", get), ("POST event body", post)):
        print(f"  {label:16}{row['per_second']:>10,.1f} requests/s"
              f"{_fmt(row['server_cpu_ms_per_request'], 3):>9} ms server CPU/request"
              f"{_fmt(row['client_cpu_ms_per_request'], 3):>9} ms client CPU/request"
              f"  ({row['failures']} failures)")
    cpu, client = post["server_cpu_ms_per_request"], post["client_cpu_ms_per_request"]
    cores = os.cpu_count() or 1
    if cpu:
        print(f"  the 1.0 ms/event target leaves {1.0 - cpu:.2f} ms for everything the ledger "
              f"does; with the bench's clients ({client:.2f} ms each) this machine's {cores} "
              f"cores cannot post more than ~{cores * 1000 / (cpu + client):,.0f} bare "
              "single-event requests/s")


def targets_line(kind: str, result: dict[str, Any], clients: int) -> str:
    """The write-path targets beside this run's figures (for reading, not an assertion)."""
    ours, batch = result.get("ours", {}), result.get("batch")
    peer_ratio = _x(result.get("ratio_ours_to_peer"))
    if batch is not None:
        peer_ratio += f" single, {_x(result.get('ratio_batch_to_peer'))} batch"
    measured = {name: "other store" for name in TARGET_PEER_RATIO} | {kind: peer_ratio}
    cpu = _ms(ours.get("server_cpu_ms_per_event"))
    if batch is not None:
        cpu += f" single, {_ms(batch.get('server_cpu_ms_per_event'))} batch"
    p99 = f"{_ms(ours.get('latency_ms', {}).get('p99'))} at {clients} clients"
    batch_ratio = _x(result.get("ratio_batch_to_single")) if batch is not None else "no --batch"
    return (f"targets (measured): PostgreSQL >= {TARGET_PEER_RATIO['postgresql']:g}x peer "
            f"({measured['postgresql']}); SQLite >= {TARGET_PEER_RATIO['sqlite']:g}x peer "
            f"({measured['sqlite']}); server CPU <= {TARGET_CPU_MS:g} ms/event ({cpu}); "
            f"p99 <= {TARGET_P99_MS:g} ms at {TARGET_P99_CLIENTS} clients ({p99}); "
            f"batch >= {TARGET_BATCH_RATIO:g}x single ({batch_ratio})")


def row_ratio(numerator: dict[str, Any] | None, denominator: dict[str, Any] | None
          ) -> float | None:
    """events/s of one row over another's, or None when either is missing or zero."""
    if not numerator or not denominator or not denominator.get("events_per_second"):
        return None
    return round(float(numerator["events_per_second"])
                 / float(denominator["events_per_second"]), 4)


def _fmt(value: float | None, digits: int = 1) -> str:
    return fmt(value, f",.{digits}f")


def _x(value: float | None) -> str:
    return fmt(value, ".2f", "x")


def _ms(value: float | None) -> str:
    return fmt(value, ".2f", " ms")
