"""Starting real server processes in acceptance tests: a free loopback port, and waiting
until a started server answers."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serving(base: str, *processes: subprocess.Popen[Any], seconds: float = 30.0,
            path: str = "/health") -> bool:
    """Whether `base + path` answers 200 within `seconds`; False at once if any of `processes`
    has stopped."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return False
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
