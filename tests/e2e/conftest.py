"""A real browser against the real app: Debian's chromium, driven by Playwright, on the app
served by uvicorn on a free localhost port over a freshly seeded small trial, on SQLite and
(when the suite has one) on PostgreSQL.

Only Debian's chromium is used (`/usr/bin/chromium`, which .ci/run installs): Playwright's own
browser downloads are never needed (Playwright itself comes with the `test` extra). Without
chromium the browser tests are skipped with the reason shown; under CI that is a failure, as a
missing PostgreSQL is.

Each store is seeded and served once for all the browser tests (seeding takes seconds); each
test gets its own browser context, so no cookie or history leaks from one story to the next.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from domain.participant import Participant
from infra.db import create_engine
from infra.settings import Settings
from services.app import create_app
from services.application import TrialLedger
from services.seed import DEMO_PASSWORD, seed_trial
from services.web.session import COOKIE, COOKIE_PATH
from tests.conftest import RUNTIME_ROLE, _admin, _with_database, runtime_url

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
PARTICIPANTS = 8
SEED = 7
"""Seed 7's eight participants span all three sites and include one correction and one void."""
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
REFRESH_SCREENSHOTS = "TRIAL_LEDGER_REFRESH_SCREENSHOTS"
WATCH = """document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI);
});
document.addEventListener("htmx:afterSettle", function () {
  var root = document.documentElement;
  root.dataset.e2eSettled = String(Number(root.dataset.e2eSettled || 0) + 1);
});"""
"""Run in every page before its own scripts: a blocked script, style or request is reported
on the console even where the browser would only count it; `data-e2e-settled` on the root
element counts the htmx swaps that have finished settling (the last step of a swap that can
still break a rule). A counter the tests can read without evaluating a string: the pages'
policy forbids that."""


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(reason + " (required under CI)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's headless chromium (package-scoped: it is closed once the browser tests are
    done, before the rest of the suite runs)."""
    if not CHROMIUM.exists():
        _missing(f"no chromium at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS,
                                              headless=True)
        yield launched
        launched.close()


@dataclass(frozen=True)
class Served:
    """The app being served, and what was seeded into it."""

    base_url: str
    store: str
    sites: dict[str, str]
    """participant id -> site"""
    corrected: str
    """a participant with an entry corrected after it was recorded"""
    corrected_version: int
    """the version that recorded the correction"""

    def url(self, path: str) -> str:
        return self.base_url + path

    def at_site(self, site: str) -> list[str]:
        return sorted(pid for pid, at in self.sites.items() if at == site)


def _seed(settings: Settings) -> tuple[dict[str, str], str, int]:
    engine = create_engine(settings.database)
    ledger = TrialLedger(settings, engine)
    try:
        seed_trial(ledger, participants=PARTICIPANTS, seed=SEED)
        sites = {pid: ledger.participant(pid).site_id for pid, _ in ledger.participant_ids()}
        corrections = [(pid, row.version) for pid in sorted(sites)
                       for event, row in ledger.participant_events(pid)
                       if isinstance(event, Participant.EntryCorrected)]
    finally:
        ledger.close()
        engine.dispose()
    assert corrections, f"seed {SEED} was chosen for its correction; it has none now"
    return sites, *corrections[0]


def _store(request: pytest.FixtureRequest, directory: Path) -> Iterator[tuple[str, str]]:
    """(owner URL, runtime URL) of a freshly migrated store of the requested kind."""
    if request.param == "sqlite":
        path = directory / "ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}", f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server_url")
    template = request.getfixturevalue("postgres_template")
    name = f"tl_e2e_{uuid.uuid4().hex[:12]}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    owner = _with_database(server, name)
    yield owner, runtime_url(owner)
    with _admin(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    """The real app (`create_app`) in a real server (uvicorn, in a thread of this process)
    on a free localhost port, over a store seeded with a small synthetic trial."""
    directory = tmp_path_factory.mktemp(f"e2e-{request.param}")
    stores = _store(request, directory)
    owner, service = next(stores)
    settings = Settings(database_url=service, migration_database_url=owner,
                        runtime_role=RUNTIME_ROLE, jwt_secret=secrets.token_urlsafe(40),
                        secrets_dir=directory / "secrets")
    sites, corrected, version = _seed(settings)
    app = create_app(settings, configure_logs=False)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           server_header=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]},
                              name=f"e2e-uvicorn-{request.param}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app's server did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", request.param, sites, corrected, version)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()
        next(stores, None)


@dataclass
class Console:
    """What the pages of one test said on the console as errors, and their uncaught errors."""

    errors: list[str] = field(default_factory=list)

    def assert_quiet(self) -> None:
        assert not self.errors, "the pages reported errors:\n" + "\n".join(self.errors)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile for one test: no cookies, no history."""
    fresh = browser.new_context(viewport={"width": 1280, "height": 900})
    fresh.set_default_timeout(15_000)
    fresh.add_init_script(WATCH)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext, console: Console) -> Page:
    """A tab of the test's own profile, its console errors collected in `console`."""
    tab = context.new_page()
    tab.on("console", lambda message: console.errors.append(
        f"{message.text} ({message.location.get('url', '')})") if message.type == "error"
        else None)
    tab.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    return tab


def open_session(context: BrowserContext, served: Served, username: str) -> None:
    """Sign `username` in as the sign-in form would, without the form: the token of
    `POST /api/v1/auth/token` in the session cookie the form sets. The form itself is what
    the sign-in and sign-out stories use; the other stories start signed in."""
    answer = context.request.post(served.url("/api/v1/auth/token"),
                                  form={"username": username, "password": DEMO_PASSWORD})
    assert answer.ok, f"{username} could not sign in: {answer.status} {answer.text()}"
    token = answer.json()["access_token"]
    context.add_cookies([{"name": COOKIE, "value": token, "domain": "127.0.0.1",
                          "path": COOKIE_PATH, "httpOnly": True, "sameSite": "Strict"}])


Shot = Callable[[Page, str], Path]


@pytest.fixture
def screenshot(served: Served, tmp_path: Path) -> Shot:
    """Save a full-page PNG of a page: into docs/screenshots/ when
    TRIAL_LEDGER_REFRESH_SCREENSHOTS=1 (from the SQLite run only: one picture per page),
    otherwise into the test's temporary directory."""
    refresh = os.environ.get(REFRESH_SCREENSHOTS) == "1" and served.store == "sqlite"
    folder = SCREENSHOTS if refresh else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def save(tab: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return save
