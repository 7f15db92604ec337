"""Soak: one real server (with its projection worker) under 32 clients for a bounded time, on
each store. Every request carries its own Idempotency-Key and is retried with it after a
connection error; at the end no acknowledged event is lost, none is stored twice, nothing
unacknowledged is stored, each participant's versions run without gaps, the chain and the
stored checkpoints verify, and no request was answered with a 5xx.

TRIAL_LEDGER_SOAK_SECONDS sets how long the clients post (default 60) on each store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from infra.settings import Settings
from services.application import TrialLedger
from tests.acceptance.servers import free_port
from tests.acceptance.test_many_processes import (
    Fleet,
    Traffic,
    assert_acknowledged_events_stored_once,
    make_accounts,
    service_env,
    sign_in,
)

pytestmark = pytest.mark.slow
CLIENTS = 32
PARTICIPANTS = 64


def soak_seconds() -> float:
    return float(os.environ.get("TRIAL_LEDGER_SOAK_SECONDS", "60"))


def test_32_clients_for_a_bounded_time_lose_and_duplicate_nothing(
        settings: Settings, ledger: TrialLedger, tmp_path: Path) -> None:
    seconds = soak_seconds()
    ttl = str(min(24 * 60, int(seconds // 60) + 15))  # tokens outlive the soak
    fleet = Fleet(service_env(settings, TRIAL_LEDGER_TOKEN_TTL_MINUTES=ttl), tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        fleet.start("server", "serve", "--port", str(port), "--checkpoint-every", "5")
        fleet.serving("server", base)
        make_accounts(ledger, ("coord", "site_coordinator", ["S01"]))
        traffic = Traffic([base], sign_in(base, "coord"))
        traffic.enroll(PARTICIPANTS)
        started = time.monotonic()
        threads = traffic.start(CLIENTS)
        deadline = started + seconds
        while time.monotonic() < deadline and not traffic.failed():
            assert fleet.started["server"].poll() is None, fleet.log("server")
            time.sleep(0.2)
        traffic.finish(threads)
        elapsed = time.monotonic() - started
        assert fleet.started["server"].poll() is None, fleet.log("server")
        fleet.stop("server")
    finally:
        fleet.kill_all()

    assert traffic.server_errors == [], (traffic.server_errors[:3], fleet.log("server"))
    assert traffic.refusals == [], (traffic.refusals[:5], traffic.summary())
    assert len(traffic.acknowledged) > PARTICIPANTS
    assert_acknowledged_events_stored_once(ledger.store.engine, traffic)
    verified = fleet.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    posted = len(traffic.acknowledged) - PARTICIPANTS
    print(f"\nsoak {elapsed:.1f} s, {posted / elapsed:.0f} events/s: {traffic.summary()}")
