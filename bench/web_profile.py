"""bench.web_pages' profiles: a page's function under yappi (wall clock, every thread), in
this process behind FastAPI's TestClient, with the threads that ran the page kept.
yappi slows everything down; read the shares, not the milliseconds."""

from __future__ import annotations

import contextlib
import io
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.harness import BenchFailure, log_stamped, random_text
from bench.web_workload import DATA_MANAGER, Page, sign_in

WAITS = frozenset({"acquire", "wait", "_wait_for_tstate_lock", "join", "sleep", "select",
                   "poll", "result", "get", "_worker", "run_sync_in_worker_thread",
                   "start_blocking_portal", "_call_func", "run_until_complete",
                   "run_forever", "_run_once", "__call__"})
"""Functions whose own time under a wall clock is mostly waiting for another thread (the
test client's portal, anyio's worker pool): left out of the own-time list."""


@contextlib.contextmanager
def in_process_app(url: str, secrets_dir: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from infra.logging import configure_logging
    from infra.settings import Settings
    from services.app import create_app

    configure_logging("WARNING", stream=io.StringIO())  # no access lines in the profile
    settings = Settings(database_url=url, secrets_dir=secrets_dir, jwt_secret=random_text(48))
    app = create_app(settings, configure_logs=False)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield app, client


def _page_function(app: Any, route: str) -> Any:
    """The function of the GET route at `route` (included routers are walked: FastAPI keeps
    them whole, not copied into the app's list)."""
    todo = list(app.routes)
    while todo:
        candidate = todo.pop(0)
        included = getattr(candidate, "original_router", None)
        if included is not None:
            todo.extend(included.routes)
        elif getattr(candidate, "path", None) == route and "GET" in (
                getattr(candidate, "methods", None) or ()):
            return candidate.endpoint
    raise BenchFailure(f"no GET route {route} in the app")


def profile_pages(url: str, secrets_dir: Path, password: str, pages: Sequence[Page],
                  warmup: int, requests: int) -> dict[str, Any]:
    """Each page asked in this process under yappi; its threads' figures."""
    import yappi

    root = str(Path(__file__).resolve().parents[1]) + "/"
    profiles: dict[str, Any] = {}
    with in_process_app(url, secrets_dir) as (app, client):
        headers = {"Cookie": sign_in(client, DATA_MANAGER, password)}
        for page in pages:
            function = _page_function(app, page.route)
            for i in range(warmup):
                assert client.get(page.url(i), headers=headers).status_code == 200
            yappi.clear_stats()
            yappi.set_clock_type("wall")
            yappi.start(builtins=True, profile_threads=True)
            started = time.perf_counter()
            for i in range(requests):
                got = client.get(page.url(warmup + i), headers=headers)
                if got.status_code != 200:
                    raise BenchFailure(f"in-process {page.url(i)}: {got.status_code}")
            elapsed = time.perf_counter() - started
            yappi.stop()
            profiles[page.name] = _profile_figures(yappi, function, root, requests, elapsed)
            yappi.clear_stats()
            log_stamped(f"  profiled {page.name}", "web_pages")
    return profiles


def _profile_figures(yappi: Any, function: Any, root: str, requests: int, elapsed: float
                     ) -> dict[str, Any]:
    """The threads that ran `function`, merged: inclusive and own time per function."""
    code = function.__code__
    inclusive: dict[str, float] = defaultdict(float)
    own: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    page_s = 0.0
    for thread in yappi.get_thread_stats():
        stats = yappi.get_func_stats(filter={"ctx_id": thread.id})
        ran = [s for s in stats if s.name == code.co_name and s.module == code.co_filename]
        if not ran:
            continue
        page_s += sum(s.ttot for s in ran)
        for s in stats:
            key = _where(s.module, root, s.lineno, s.name)
            inclusive[key] += s.ttot
            own[key] += s.tsub
            calls[key] += s.ncall
    ours = {k: v for k, v in inclusive.items() if not k.startswith(("lib:", "builtins:", "<"))}

    def top(figures: dict[str, float], n: int) -> list[dict[str, Any]]:
        ranked = sorted(figures.items(), key=lambda kv: kv[1], reverse=True)[:n]
        return [{"function": k, "ms_per_request": round(v * 1000 / requests, 2),
                 "share": round(v / page_s, 3) if page_s else None,
                 "calls_per_request": round(calls[k] / requests, 1)} for k, v in ranked]

    own_work = {k: v for k, v in own.items() if k.rsplit(":", 1)[-1] not in WAITS}
    return {"requests": requests, "page_function": code.co_name,
            "page_ms_per_request": round(page_s * 1000 / requests, 2),
            "client_ms_per_request": round(elapsed * 1000 / requests, 2),
            "inclusive_ours": top(ours, 25), "own_all": top(own_work, 25)}


def _where(module: str, root: str, lineno: int, name: str) -> str:
    """`path/in/project.py:line:function` for the project's code; `lib:package/file.py:
    function` for a library's (builtins as yappi names them)."""
    if module.startswith(root) and "/.venv/" not in module:
        return f"{module[len(root):]}:{lineno}:{name}"
    if "site-packages/" in module:
        return f"lib:{module.split('site-packages/', 1)[1]}:{name}"
    if module.startswith("/"):
        return f"lib:{'/'.join(module.split('/')[-2:])}:{name}"
    return f"{module or '?'}:{name}"
