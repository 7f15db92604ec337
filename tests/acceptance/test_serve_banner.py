"""A newcomer who runs `trial-ledger serve` is told where it listens and where the docs are."""

from __future__ import annotations

import subprocess
import time

import httpx

from tests.acceptance.test_cli_and_server import CLI, env, free_port  # noqa: F401  (fixture)


def test_serve_prints_the_address_it_listens_on_and_the_docs(env: dict[str, str],
                                                            store_kind: str) -> None:
    port = free_port()
    process = subprocess.Popen([*CLI, "serve", "--port", str(port), "--no-worker"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    address = f"http://127.0.0.1:{port}"
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        banner = ""
        while time.monotonic() < deadline and "serving" not in banner:
            banner = process.stderr.readline()
        assert banner.strip() == (f"trial-ledger: serving the {store_kind} store at {address} "
                                  f"(API docs: {address}/docs; stop with Ctrl+C)")
        for _ in range(200):
            try:
                if httpx.get(f"{address}/docs", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the printed address does not answer")
    finally:
        process.terminate()
        process.wait(timeout=20)
