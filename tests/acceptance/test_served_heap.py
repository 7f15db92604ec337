"""A served process keeps what it holds for life out of the garbage collector's full sweeps:
`trial-ledger serve` builds its app with `create_served_app`, which collects and then freezes
the heap (imported libraries, the app, its routes), so a full collection on a busy page walks
only what requests have left behind. Apps built for tests or tools (`create_app`) do not."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.acceptance.test_cli_and_server import env, run

__all__ = ["env"]

PROBE = """
import gc, json
from fastapi.testclient import TestClient
from services.app import create_app, create_served_app

plain = create_app()
after_plain = gc.get_freeze_count()
served = create_served_app()
frozen = gc.get_freeze_count()
with TestClient(served) as client:
    health = client.get("/health")
print(json.dumps({"after_plain": after_plain, "frozen": frozen,
                  "tracked": len(gc.get_objects()), "health": health.status_code,
                  "store": health.json().get("store")}))
"""


def test_the_served_app_freezes_its_heap_and_still_serves(env: dict[str, str]) -> None:
    migrated = run(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["after_plain"] == 0  # tests and tools: the collector as Python ships it
    assert seen["frozen"] > 50_000  # the libraries and the app, out of the full sweeps
    assert seen["tracked"] < seen["frozen"] / 5  # what is left for a sweep to walk
    assert seen["health"] == 200
    assert seen["store"] == ("sqlite" if env["TRIAL_LEDGER_DATABASE_URL"].startswith("sqlite")
                             else "postgresql")
