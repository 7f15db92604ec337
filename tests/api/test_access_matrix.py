"""The access matrix (Part 11 §11.10(d), (g)), walked cell by cell against the real API.

Expectations come from the one table in services/access.py (the one docs/access-matrix.md is
rendered from): for every role, and without a token, every endpoint on a participant of the
caller's own site and of another site must answer 2xx when the table allows it, else 403 (401
without a token); a participant at a site the caller may not read answers 404, exactly as an
unknown participant does. Each endpoint has a request builder here that sets up what the call needs
(as a data manager or administrator) and undoes what would disturb the next call.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from domain.account import Account
from services.access import (
    ENDPOINTS,
    WEB_PAGES,
    Endpoint,
    render_markdown,
    scope_of,
)
from tests import story
from tests.api.conftest import PASSWORD, PASSWORD_HASH, USERS, Api
from tests.api.part11 import NEW_PASSWORD, send

ROLE_USERS = ["coord1", "invest1", "monitor1", "dm", "auditor", "admin", None]
PARTICIPANTS = {"S01": "HCC-01-001", "S02": "HCC-02-001"}
DOC = Path(__file__).resolve().parents[2] / "docs" / "access-matrix.md"


@dataclass
class Call:
    method: str
    path: str
    json: Any = None
    data: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    cleanup: Callable[[int], None] = lambda status: None


class Walk:
    """The state one role's walk shares: the api, the participants, fresh names."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.count = itertools.count(1)
        self.enrollments: dict[str, str] = {}
        for site, pid in PARTICIPANTS.items():
            response = api.post(pid, story.enrollment(site_id=site), user="dm")
            assert response.status_code == 201, response.text
            self.enrollments[site] = response.json()["event_id"]

    def fresh_account(self, role: str = "monitor", sites: tuple[str, ...] = ("S01",)) -> str:
        """An account made in the store directly (argon2 once per session, not per call)."""
        username = f"u{next(self.count)}"
        self.api.client.app.state.ledger.create_account(  # type: ignore[attr-defined]
            Account.create(username=username, full_name=username, role=role, sites=list(sites),
                           password_hash=PASSWORD_HASH, event_id=str(uuid.uuid4()),
                           actor="setup", actor_role="system"))
        return username

    def as_dm(self, path: str, reason: str = "matrix") -> None:
        response = send(self.api, "POST", path, "dm", {"reason": reason})
        assert response.status_code == 201, response.text

    def undo_if(self, path: str, done: bool) -> Callable[[int], None]:
        return lambda status: self.as_dm(path) if (status == 201) == done else None


P = "/api/v1/participants/{participant_id}"
A = "/api/v1/accounts/{username}"
Q = "/api/v1/queries/{query_id}"
Builder = Callable[[Walk, str], Call]


def _unlock_after(walk: Walk, lock_path: str, unlock_path: str) -> Call:
    walk.as_dm(lock_path)
    return Call("POST", unlock_path, {"reason": "matrix"},
                cleanup=walk.undo_if(unlock_path, done=False))


def _transfer_and_back(walk: Walk, participant_id: str) -> Call:
    home = next(site for site, pid in PARTICIPANTS.items() if pid == participant_id)
    path = f"/api/v1/participants/{participant_id}/transfer"

    def back(status: int) -> None:
        if status == 201:
            response = send(walk.api, "POST", path, "dm", {"to_site": home, "reason": "matrix"})
            assert response.status_code == 201, response.text
    return Call("POST", path, {"to_site": "S09", "reason": "matrix"}, cleanup=back)


BUILDERS: dict[tuple[str, str], Builder] = {
    ("GET", "/health"): lambda w, p: Call("GET", "/health"),
    ("GET", "/openapi.json"): lambda w, p: Call("GET", "/openapi.json"),
    ("GET", "/docs"): lambda w, p: Call("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"): lambda w, p: Call("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"): lambda w, p: Call("GET", "/redoc"),
    ("POST", "/api/v1/auth/token"): lambda w, p: Call(
        "POST", "/api/v1/auth/token", data={"username": "coord2", "password": PASSWORD}),
    ("POST", "/api/v1/auth/password"): lambda w, p: Call(
        "POST", "/api/v1/auth/password", {"username": w.fresh_account(),
                                          "current_password": PASSWORD,
                                          "new_password": NEW_PASSWORD}),
    ("POST", "/api/v1/accounts/me/password"): lambda w, p: Call(
        "POST", "/api/v1/accounts/me/password", {"current_password": PASSWORD,
                                                 "new_password": NEW_PASSWORD}),
    ("GET", "/api/v1/accounts"): lambda w, p: Call("GET", "/api/v1/accounts"),
    ("POST", "/api/v1/accounts"): lambda w, p: Call("POST", "/api/v1/accounts", {
        "username": f"new{next(w.count)}", "full_name": "New", "role": "auditor",
        "password": NEW_PASSWORD}),
    ("GET", A): lambda w, p: Call("GET", "/api/v1/accounts/coord2"),
    ("POST", f"{A}/role"): lambda w, p: Call(
        "POST", f"/api/v1/accounts/{w.fresh_account()}/role", {"role": "data_manager",
                                                               "reason": "matrix"}),
    ("POST", f"{A}/sites"): lambda w, p: Call(
        "POST", f"/api/v1/accounts/{w.fresh_account()}/sites", {"sites": ["S01", "S02"],
                                                                "reason": "matrix"}),
    ("POST", f"{A}/lock"): lambda w, p: Call(
        "POST", f"/api/v1/accounts/{w.fresh_account()}/lock", {"reason": "matrix"}),
    ("POST", f"{A}/unlock"): lambda w, p: _locked_account(w),
    ("POST", f"{A}/deactivate"): lambda w, p: Call(
        "POST", f"/api/v1/accounts/{w.fresh_account()}/deactivate", {"reason": "matrix"}),
    ("POST", f"{A}/password"): lambda w, p: Call(
        "POST", f"/api/v1/accounts/{w.fresh_account()}/password",
        {"new_password": NEW_PASSWORD, "reason": "matrix"}),
    ("GET", "/api/v1/participants"): lambda w, p: Call("GET", "/api/v1/participants"),
    ("POST", f"{P}/events"): lambda w, p: Call(
        "POST", f"/api/v1/participants/{p}/events",
        story.follow_up(f"2026-02-{next(w.count) % 28 + 1:02d}")),
    ("POST", "/api/v1/events/batch"): lambda w, p: Call("POST", "/api/v1/events/batch", {
        "events": [{"participant_id": PARTICIPANTS["S01"], "idempotency_key": f"m{next(w.count)}",
                    **story.follow_up(f"2026-02-{next(w.count) % 28 + 1:02d}")}]}),
    ("GET", P): lambda w, p: Call("GET", f"/api/v1/participants/{p}"),
    ("GET", f"{P}/events"): lambda w, p: Call("GET", f"/api/v1/participants/{p}/events"),
    ("GET", f"{P}/audit-report"): lambda w, p: Call(
        "GET", f"/api/v1/participants/{p}/audit-report"),
    ("GET", f"{P}/signatures"): lambda w, p: Call("GET", f"/api/v1/participants/{p}/signatures"),
    ("POST", f"{P}/signatures"): lambda w, p: Call(
        "POST", f"/api/v1/participants/{p}/signatures", {"meaning": "reviewed",
                                                         "password": PASSWORD}),
    ("POST", f"{P}/lock"): lambda w, p: Call(
        "POST", f"/api/v1/participants/{p}/lock", {"reason": "matrix"},
        cleanup=w.undo_if(f"/api/v1/participants/{p}/unlock", done=True)),
    ("POST", f"{P}/transfer"): _transfer_and_back,
    ("POST", f"{P}/unlock"): lambda w, p: _unlock_after(
        w, f"/api/v1/participants/{p}/lock", f"/api/v1/participants/{p}/unlock"),
    ("GET", "/api/v1/study"): lambda w, p: Call("GET", "/api/v1/study"),
    ("POST", "/api/v1/study/cutoffs"): lambda w, p: Call("POST", "/api/v1/study/cutoffs", {
        "name": f"cutoff-{next(w.count)}", "cutoff_on": "2026-06-30", "reason": "matrix"}),
    ("POST", "/api/v1/study/lock"): lambda w, p: Call(
        "POST", "/api/v1/study/lock", {"reason": "matrix"},
        cleanup=w.undo_if("/api/v1/study/unlock", done=True)),
    ("POST", "/api/v1/study/unlock"): lambda w, p: _unlock_after(
        w, "/api/v1/study/lock", "/api/v1/study/unlock"),
    ("GET", "/api/v1/endpoints"): lambda w, p: Call("GET", "/api/v1/endpoints",
                                                    params={"criteria": "mRECIST"}),
    ("GET", "/api/v1/endpoints/curves"): lambda w, p: Call(
        "GET", "/api/v1/endpoints/curves", params={"criteria": "mRECIST"}),
    ("GET", "/api/v1/safety"): lambda w, p: Call("GET", "/api/v1/safety"),
    ("GET", "/api/v1/audit-trail"): lambda w, p: Call("GET", "/api/v1/audit-trail"),
    ("GET", "/api/v1/projections"): lambda w, p: Call("GET", "/api/v1/projections"),
    ("GET", "/api/v1/ledger/verify"): lambda w, p: Call("GET", "/api/v1/ledger/verify"),
    ("GET", "/api/v1/ledger/checkpoints/latest"): lambda w, p: _after_a_checkpoint(w),
    ("POST", "/api/v1/ledger/checkpoints"): lambda w, p: Call("POST",
                                                              "/api/v1/ledger/checkpoints"),
    ("GET", "/api/v1/ledger/public-key"): lambda w, p: Call("GET", "/api/v1/ledger/public-key"),
    ("GET", "/api/v1/ledger/proofs/inclusion"): lambda w, p: Call(
        "GET", "/api/v1/ledger/proofs/inclusion", params={"event_id": w.enrollments["S01"]}),
    ("GET", "/api/v1/ledger/proofs/consistency"): lambda w, p: Call(
        "GET", "/api/v1/ledger/proofs/consistency", params={"first": 1, "second": 2}),
    ("POST", "/api/v1/exports/odm"): lambda w, p: Call("POST", "/api/v1/exports/odm"),
    ("POST", "/api/v1/exports/sdtm"): lambda w, p: Call(
        "POST", "/api/v1/exports/sdtm", params={"cutoff": "2026-06-30"}),
    ("POST", "/api/v1/exports/adam"): lambda w, p: Call(
        "POST", "/api/v1/exports/adam", params={"cutoff": "2026-06-30"}),
    ("GET", "/api/v1/exports"): lambda w, p: Call("GET", "/api/v1/exports"),
    ("GET", "/api/v1/exports/{export_id}"): lambda w, p: _after_an_export(w),
    ("GET", "/api/v1/audit-review"): lambda w, p: Call("GET", "/api/v1/audit-review"),
    ("POST", "/api/v1/audit-reviews"): lambda w, p: _a_review(w),
    ("GET", "/api/v1/audit-reviews"): lambda w, p: Call("GET", "/api/v1/audit-reviews"),
    ("POST", f"{P}/sdv"): lambda w, p: Call("POST", f"/api/v1/participants/{p}/sdv", {
        "event_ids": [w.enrollments[next(s for s, pid in PARTICIPANTS.items() if pid == p)]]}),
    ("GET", f"{P}/sdv"): lambda w, p: Call("GET", f"/api/v1/participants/{p}/sdv"),
    ("GET", "/api/v1/sdv"): lambda w, p: Call("GET", "/api/v1/sdv"),
    ("GET", f"{P}/schedule"): lambda w, p: Call("GET", f"/api/v1/participants/{p}/schedule"),
    ("GET", "/api/v1/schedule/missing-data"): lambda w, p: Call(
        "GET", "/api/v1/schedule/missing-data"),
    ("POST", "/api/v1/queries"): lambda w, p: Call("POST", "/api/v1/queries", {
        "participant_id": p, "event_id": w.enrollments[_site_of(p)], "text": "matrix"}),
    ("GET", "/api/v1/queries"): lambda w, p: Call("GET", "/api/v1/queries"),
    ("GET", "/api/v1/queries/summary"): lambda w, p: Call("GET", "/api/v1/queries/summary"),
    ("GET", Q): lambda w, p: Call("GET", f"/api/v1/queries/{_query(w, p)}"),
    ("POST", f"{Q}/issue"): lambda w, p: Call(
        "POST", f"/api/v1/queries/{_query(w, p, candidate=True)}/issue"),
    ("POST", f"{Q}/answer"): lambda w, p: Call(
        "POST", f"/api/v1/queries/{_query(w, p)}/answer", {"text": "matrix"}),
    ("POST", f"{Q}/close"): lambda w, p: Call("POST", f"/api/v1/queries/{_query(w, p)}/close"),
    ("POST", f"{Q}/reopen"): lambda w, p: Call(
        "POST", f"/api/v1/queries/{_query(w, p, answered=True)}/reopen", {"text": "matrix"}),
    ("POST", f"{Q}/cancel"): lambda w, p: Call("POST",
                                               f"/api/v1/queries/{_query(w, p)}/cancel"),
}


def _site_of(participant_id: str) -> str:
    return next(site for site, pid in PARTICIPANTS.items() if pid == participant_id)


def _query(walk: Walk, participant_id: str, *, candidate: bool = False,
           answered: bool = False) -> str:
    """A fresh query on the participant's enrolment, opened (and answered) by a data manager."""
    response = send(walk.api, "POST", "/api/v1/queries", "dm", {
        "participant_id": participant_id, "event_id": walk.enrollments[_site_of(participant_id)],
        "text": "matrix", "candidate": candidate})
    assert response.status_code == 201, response.text
    query_id: str = response.json()["query_id"]
    if answered:
        response = send(walk.api, "POST", f"/api/v1/queries/{query_id}/answer", "dm",
                        {"text": "matrix"})
        assert response.status_code == 200, response.text
    return query_id


def _after_an_export(walk: Walk) -> Call:
    """A record to read: an export of S01, which every role allowed to export may see."""
    response = walk.api.client.post("/api/v1/exports/odm", params={"site_id": "S01"},
                                    headers=walk.api.headers("dm"))
    assert response.status_code == 201, response.text
    return Call("GET", response.headers["location"])


def _a_review(walk: Walk) -> Call:
    """A signed review of site S01's report, which every role allowed to review reads alike."""
    read = walk.api.get("/api/v1/audit-review", user="dm", site_id="S01")
    assert read.status_code == 200, read.text
    report = read.json()
    return Call("POST", "/api/v1/audit-reviews", {
        **report["window"], "site_id": "S01", "report_hash": report["report_hash"],
        "conclusion": "matrix", "meaning": "I reviewed this audit trail", "password": PASSWORD})


def _after_a_checkpoint(walk: Walk) -> Call:
    """Reads never issue checkpoints: the worker (here, the data manager) issues one first."""
    response = send(walk.api, "POST", "/api/v1/ledger/checkpoints", "dm", None)
    assert response.status_code == 201, response.text
    return Call("GET", "/api/v1/ledger/checkpoints/latest")


def _locked_account(walk: Walk) -> Call:
    username = walk.fresh_account()
    response = send(walk.api, "POST", f"/api/v1/accounts/{username}/lock", "admin",
                    {"reason": "matrix"})
    assert response.status_code == 200, response.text
    return Call("POST", f"/api/v1/accounts/{username}/unlock", {"reason": "matrix"})


def expected(user: str | None, endpoint: Endpoint, site: str | None) -> str:
    """'2xx', '401', '403' or '404', as the table says."""
    if endpoint.action == "public":
        return "2xx"
    if user is None:
        return "401"
    role, sites = USERS[user]
    scope = scope_of(role, endpoint.action)
    if scope is None:
        return "403"
    if site is not None and endpoint.site_bound:
        reads = scope_of(role, "read_clinical")
        if reads is None or (reads == "own" and site not in sites):
            return "404"
    if scope == "own" and site is not None and site not in sites:
        return "403"
    return "2xx"


def observed(status: int) -> str:
    return "2xx" if 200 <= status < 300 else str(status)


def cells(endpoint: Endpoint) -> list[str | None]:
    return list(PARTICIPANTS) if endpoint.site_bound else [None]


def walk_order() -> list[Endpoint]:
    """Changing one's own password revokes one's token: that call goes last."""
    return sorted(ENDPOINTS, key=lambda e: e.path == "/api/v1/accounts/me/password")


@pytest.mark.parametrize("user", ROLE_USERS, ids=[u or "no-token" for u in ROLE_USERS])
def test_every_endpoint_answers_as_the_table_says(api: Api, user: str | None) -> None:
    walk = Walk(api)
    wrong = []
    for endpoint in walk_order():
        for site in cells(endpoint):
            call = BUILDERS[(endpoint.method, endpoint.path)](
                walk, PARTICIPANTS[site] if site else "")
            headers = api.headers(user) if user else {}
            response = api.client.request(call.method, call.path, json=call.json,
                                          data=call.data, params=call.params, headers=headers)
            call.cleanup(response.status_code)
            want, got = expected(user, endpoint, site), observed(response.status_code)
            if want != got:
                wrong.append(f"{endpoint.method} {endpoint.path} site={site}: expected {want}, "
                             f"got {response.status_code} {response.text[:160]}")
    assert wrong == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def _routes(routes: list[Any]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, those of included routers too (the web app's are left
    out of the OpenAPI document)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield from ((m, route.path) for m in getattr(route, "methods", set()) - {"HEAD"})


def test_the_table_names_every_route_and_every_route_has_a_request_here(api: Api) -> None:
    app = api.client.app
    routes = {(method, path) for path, item in app.openapi()["paths"].items()  # type: ignore
              for method in (m.upper() for m in item)}
    routes |= set(_routes(app.routes))  # type: ignore[attr-defined]
    api_routes = {(e.method, e.path) for e in ENDPOINTS}
    assert {r for r in routes if not r[1].startswith("/app")} == api_routes
    assert {r for r in routes if r[1].startswith("/app")} == {(e.method, e.path)
                                                               for e in WEB_PAGES}
    assert set(BUILDERS) == api_routes, "the web pages' walk: tests/web/test_access_walk.py"


def test_the_committed_access_matrix_doc_is_rendered_from_the_table() -> None:
    assert DOC.read_text() == render_markdown(), (
        "docs/access-matrix.md is stale: run `python -m services.access > "
        "docs/access-matrix.md`")
