"""Every web page, for every role, against the one access table (services/access.py,
WEB_PAGES): a role the table refuses gets 403, a role limited to its own sites gets the same
404 as for an unknown participant on another site's casebook, everyone else the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from services.access import PUBLIC, WEB_PAGES, scope_of
from tests.story import enrollment
from tests.web.conftest import PASSWORD, USERS, Api

Request = Callable[[Api], Any]


def _get(path: str, **params: str) -> Request:
    return lambda api: api.client.get(path, params=params, follow_redirects=False)


def _issue_report(api: Api) -> Any:
    form = api.client.get("/app/participants")
    token = re.search(r'name="csrf" value="([0-9a-f]*)"', form.text)
    return api.client.post("/app/report", follow_redirects=False, data={
        "csrf": token.group(1) if token else "", "password": "not the password",
        "meaning": "Approved"})


PAGES: dict[tuple[str, str], Request] = {
    ("GET", "/app/participants"): _get("/app/participants"),
    ("GET", "/app/participants/{participant_id}"): _get("/app/participants/HCC-01-001"),
    ("GET", "/app/audit"): _get("/app/audit"),
    ("GET", "/app/monitoring"): _get("/app/monitoring"),
    ("GET", "/app/endpoints"): _get("/app/endpoints"),
    ("GET", "/app/endpoints/plots/{name}"): _get("/app/endpoints/plots/km-os.svg"),
    ("GET", "/app/ledger"): _get("/app/ledger"),
    ("GET", "/app/ledger/downloads/{name}"): _get("/app/ledger/downloads/public-key.json"),
    ("GET", "/app/report"): _get("/app/report"),
    ("POST", "/app/report"): _issue_report,
}
ALLOWED = {("POST", "/app/report"): 401}
"""What an allowed role gets from a request that is wrong in itself (a wrong password)."""


def test_every_page_that_needs_a_role_is_walked() -> None:
    assert set(PAGES) == {(e.method, e.path) for e in WEB_PAGES if e.action != PUBLIC}


@pytest.mark.parametrize("username", sorted(USERS))
def test_each_role_gets_what_the_table_gives_it(api: Api, username: str) -> None:
    assert api.post("HCC-01-001", enrollment("S01")).status_code == 201
    answer = api.client.post("/app/sign-in", data={"username": username, "password": PASSWORD},
                             follow_redirects=False)
    assert answer.status_code == 303
    role, sites = USERS[username]
    for page in WEB_PAGES:
        if page.action == PUBLIC:
            continue
        got = PAGES[(page.method, page.path)](api).status_code
        scope = scope_of(role, page.action)
        if scope is None:
            expected = 403
        elif page.site_bound and scope == "own" and "S01" not in sites:
            expected = 404
        else:
            expected = ALLOWED.get((page.method, page.path), 200)
        assert got == expected, (username, page.method, page.path)
