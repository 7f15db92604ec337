"""Where a single-event POST's server CPU goes: bench.ingest with the server under yappi.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m bench.profile_serve --store sqlite --clients 16 --events 2000

Runs `bench.ingest` unchanged except that `trial-ledger serve` runs under yappi's CPU clock
(every thread), profiling only the timed single-event phase: the profiler starts when that
phase begins (SIGUSR2) and the server writes its figures when it ends (SIGUSR1), before the
bench's HTTP floor. The table splits the phase's CPU by what spends it, using the inclusive
CPU of synchronous entry points (exact per thread) and leaving the rest to the web stack.
yappi slows everything down; read the shares, not the milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PARTS = (
    ("projection worker (read models, in the server)", "Projector.run_batch"),
    ("ledger write: decision, group commit, chain", "TrialLedger.record_participant_event"),
    ("authentication (token, account probe)", "current_actor"),
)
"""Synchronous entry points whose inclusive CPU is one part of the request's cost."""
ENDPOINT = "post_event"


def _profiled_server() -> None:
    """The server side: `trial-ledger serve` with yappi started and stopped by signals."""
    import yappi

    out = Path(os.environ["TRIAL_LEDGER_PROFILE_OUT"])
    yappi.set_clock_type("cpu")

    def start(*_: Any) -> None:
        yappi.clear_stats()
        yappi.start(builtins=True)

    def dump(*_: Any) -> None:
        yappi.stop()
        inclusive: dict[str, float] = {}
        total = 0.0
        for stat in yappi.get_func_stats():
            total += stat.tsub
            inclusive[stat.name] = inclusive.get(stat.name, 0.0) + stat.ttot
        out.write_text(repr({"total": total, "inclusive": inclusive}))

    signal.signal(signal.SIGUSR2, start)
    signal.signal(signal.SIGUSR1, dump)
    from services.cli import main

    sys.argv = ["trial-ledger", *sys.argv[2:]]
    main()


def _report(path: Path, events: int) -> None:
    import ast

    figures = ast.literal_eval(path.read_text())
    total, inclusive = figures["total"], figures["inclusive"]
    rows = [(label, inclusive.get(name, 0.0)) for label, name in PARTS]
    endpoint = inclusive.get(ENDPOINT, 0.0) - inclusive.get(PARTS[1][1], 0.0)
    rows.append(("endpoint's own work (body to submission, answer)", endpoint))
    rows.append(("web stack: routing, dependencies, thread hand-offs, middleware, log line",
                 total - sum(cpu for _, cpu in rows)))
    print(f"\nwhere the server's CPU went in the timed single-event phase ({events} events, "
          "under yappi):")
    for label, cpu in rows:
        print(f"  {label:74}{100 * cpu / total:6.1f} %  {cpu * 1000 / events:7.2f} ms/event")
    print(f"  {'all of it':74}{100.0:6.1f} %  {total * 1000 / events:7.2f} ms/event")


def main(argv: list[str]) -> int:
    from bench import ingest, ingest_batch
    from bench import server as bench_server

    out = Path(tempfile.mkdtemp(prefix="trial-ledger-profile-")) / "profile.txt"
    wrapper = out.with_name("trial-ledger")
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = serve ]; then exec "{sys.executable}" -m bench.profile_serve --server '
        '"$@"; fi\n'
        f'exec "{bench_server.trial_ledger_command()}" "$@"\n')
    wrapper.chmod(0o755)
    os.environ["TRIAL_LEDGER_PROFILE_OUT"] = str(out)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path.cwd()),
                                                             os.environ.get("PYTHONPATH")]))
    bench_server.trial_ledger_command = lambda: str(wrapper)
    post_phase, floor = ingest._post_phase, ingest_batch.http_floor

    def profiled_phase(server: Any, *args: Any, **kwargs: Any) -> Any:
        os.kill(server.proc.pid, signal.SIGUSR2)
        time.sleep(1)
        return post_phase(server, *args, **kwargs)

    def floor_after_dump(base_url: str, pid: int, *args: Any, **kwargs: Any) -> Any:
        os.kill(pid, signal.SIGUSR1)
        for _ in range(120):
            if out.exists():
                break
            time.sleep(0.5)
        return floor(base_url, pid, *args, **kwargs)

    ingest._post_phase = profiled_phase
    ingest_batch.http_floor = floor_after_dump  # type: ignore[assignment]
    args = ingest.parse_args(argv)
    if args.workers != 1 or args.batch:
        raise SystemExit("profile one server process on the single-event route: "
                         "--workers 1, no --batch")
    code = ingest.main(argv)
    if out.exists():
        _report(out, args.events)
    return code


if __name__ == "__main__":
    if sys.argv[1:2] == ["--server"]:
        _profiled_server()
    else:
        sys.exit(main(sys.argv[1:]))
