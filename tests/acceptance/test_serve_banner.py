"""A newcomer who runs `trial-ledger serve` is told where it listens and where the docs are."""

from __future__ import annotations

import subprocess
import time

from tests.acceptance.servers import free_port, serving
from tests.acceptance.test_cli_and_server import CLI, env  # noqa: F401  (fixture)


def test_serve_prints_the_address_it_listens_on_and_the_docs(env: dict[str, str],  # noqa: F811
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
        assert serving(address, process, path="/docs"), "the printed address does not answer"
    finally:
        process.terminate()
        process.wait(timeout=20)
