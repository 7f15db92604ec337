"""What bench.web_pages asks: each page of the web app, its peer (the API read it stands on) and
every API read the page makes, for one seeded trial; the answers' checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from bench.harness import BenchFailure

DATA_MANAGER = "bench-dm"
"""The account every timed request is made with (every site)."""
CRITERION = "RECIST 1.1"
"""The criterion the endpoints page and the plots are asked under."""


@dataclass(frozen=True)
class Page:
    """One page, its peer (the API read it stands on) and every API read it makes."""

    name: str
    route: str
    """The route's path template (finds the page's function for the profile)."""
    url: Callable[[int], str]
    peer: Callable[[int], str]
    reads: tuple[Callable[[int], str], ...] = ()
    kind: str = "html"
    check: Callable[[int, httpx.Response], str | None] = lambda i, r: None


def quoted(value: str) -> str:
    """`value` as one URL query value."""
    return quote(value, safe="")


def build_pages(pids: Sequence[str], between: str, n: int) -> list[Page]:
    """The pages of the requirement, each with its peer; round i's participant is
    `pids[i % len(pids)]` (a random sample, the same for the page, its peer and its reads)."""
    crit = f"criteria={quoted(CRITERION)}"
    other = next(c for c in _criteria() if c != CRITERION)

    def pid(i: int) -> str:
        return pids[i % len(pids)]

    def every_participant(_: int, reply: httpx.Response) -> str | None:
        missing = [p for p in (pids[0], pids[-1]) if p not in reply.text]
        rows = reply.text.count('href="/app/participants/HCC-')
        if missing or rows < n:
            return f"{rows} participant links for {n} participants; missing {missing}"
        return None

    def names_participant(i: int, reply: httpx.Response) -> str | None:
        return None if pid(i) in reply.text else f"{pid(i)} not on its casebook page"

    def four_figures(_: int, reply: httpx.Response) -> str | None:
        found = reply.text.count("<svg")
        return None if found >= 4 else f"{found} <svg> elements, expected at least 4"

    def png(_: int, reply: httpx.Response) -> str | None:
        return None if reply.content.startswith(b"\x89PNG\r\n\x1a\n") else "not a PNG"

    casebook_reads = (lambda i: f"/api/v1/participants/{pid(i)}",
                      lambda i: f"/api/v1/participants/{pid(i)}/events",
                      lambda i: f"/api/v1/participants/{pid(i)}/events",
                      lambda i: f"/api/v1/audit-trail?participant_id={pid(i)}&limit=1000")
    as_of = f"as_of={quoted(between)}"
    endpoints_reads = (lambda i: f"/api/v1/endpoints?{crit}",
                       lambda i: f"/api/v1/endpoints?criteria={quoted(other)}",
                       lambda i: "/api/v1/safety",
                       lambda i: f"/api/v1/endpoints/curves?{crit}")
    return [
        Page("participants list", "/app/participants", lambda i: "/app/participants",
             lambda i: "/api/v1/participants",
             (lambda i: "/api/v1/participants", lambda i: "/api/v1/queries"),
             check=every_participant),
        Page("casebook", "/app/participants/{participant_id}",
             lambda i: f"/app/participants/{pid(i)}",
             lambda i: f"/api/v1/participants/{pid(i)}", casebook_reads,
             check=names_participant),
        Page("casebook ?as_of=", "/app/participants/{participant_id}",
             lambda i: f"/app/participants/{pid(i)}?{as_of}",
             lambda i: f"/api/v1/participants/{pid(i)}?{as_of}",
             (lambda i: f"/api/v1/participants/{pid(i)}?{as_of}",
              lambda i: f"/api/v1/participants/{pid(i)}/events?{as_of}",
              lambda i: f"/api/v1/participants/{pid(i)}/events",
              lambda i: f"/api/v1/audit-trail?participant_id={pid(i)}&limit=1000&{as_of}"),
             check=names_participant),
        Page("audit trail", "/app/audit", lambda i: "/app/audit",
             lambda i: "/api/v1/audit-trail?limit=100"),
        Page("monitoring", "/app/monitoring", lambda i: "/app/monitoring",
             lambda i: "/api/v1/queries",
             (lambda i: "/api/v1/queries", lambda i: "/api/v1/queries/summary",
              lambda i: "/api/v1/audit-reviews")),
        Page("ledger", "/app/ledger", lambda i: "/app/ledger",
             lambda i: "/api/v1/ledger/checkpoints/latest",
             (lambda i: "/api/v1/ledger/checkpoints/latest",
              lambda i: "/api/v1/ledger/public-key")),
        Page("endpoints", "/app/endpoints", lambda i: f"/app/endpoints?{crit}",
             lambda i: f"/api/v1/endpoints?{crit}", endpoints_reads, check=four_figures),
        Page("plot km-pfs.svg", "/app/endpoints/plots/{name}",
             lambda i: f"/app/endpoints/plots/km-pfs.svg?{crit}",
             lambda i: f"/api/v1/endpoints/curves?{crit}", kind="svg"),
        Page("plot km-pfs.png", "/app/endpoints/plots/{name}",
             lambda i: f"/app/endpoints/plots/km-pfs.png?{crit}",
             lambda i: f"/api/v1/endpoints/curves?{crit}", kind="png", check=png),
    ]


def _criteria() -> tuple[str, ...]:
    from domain.protocol import CRITERIA

    return tuple(CRITERIA)


CONTENT_TYPES = {"html": "text/html", "svg": "image/svg+xml", "png": "image/png",
                 "json": "application/json"}


def sign_in(client: httpx.Client, username: str, password: str) -> str:
    """The session cookie the sign-in form sets (sent by hand: the cookie jar's handling of
    a bare IP host is not what is measured)."""
    reply = client.post("/app/sign-in", data={"username": username, "password": password,
                                              "next": "/app/participants"})
    cookie = reply.cookies.get("trial_ledger_session")
    if reply.status_code != 303 or not cookie:
        raise BenchFailure(f"sign-in form: {reply.status_code} {reply.text[:300]}")
    client.cookies.clear()
    return f"trial_ledger_session={cookie}"
