"""Every study-wide answer says what it covers: the sites the caller may read (never another
site's name or count), how many participants, as of when and at which cutoff; an answer that
covers nothing says so and why; a query parameter a route does not know is refused by name."""

from __future__ import annotations

import uuid

from domain.account import Account
from tests import story
from tests.api.conftest import PASSWORD_HASH, Api

BEFORE_ANYTHING = "2001-01-01T00:00:00Z"
CUTOFF = "2026-02-15"
SITE_READS = ("/api/v1/participants", "/api/v1/endpoints", "/api/v1/safety",
              "/api/v1/audit-trail")


def _monitor_of_two_sites(api: Api) -> str:
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    ledger.create_account(Account.create(
        username="monitor12", full_name="Monitor of S01 and S02", role="monitor",
        sites=["S01", "S02"], password_hash=PASSWORD_HASH, event_id=str(uuid.uuid4()),
        actor="setup", actor_role="system"))
    return "monitor12"


def _enrol(api: Api, pid: str, site: str, on: str, treated_on: str | None = None) -> None:
    assert api.post(pid, story.enrollment(site_id=site, on=on), user="dm").status_code == 201
    if treated_on is not None:
        assert api.post(pid, story.camrelizumab(treated_on), user="dm").status_code == 201


def _trial_at_three_sites(api: Api) -> None:
    """S01: two (one enrolled after the cutoff), S02: one, S03: two the monitor may not read."""
    _enrol(api, "HCC-01-001", "S01", "2026-01-10", treated_on="2026-01-12")
    _enrol(api, "HCC-01-002", "S01", "2026-03-01")
    _enrol(api, "HCC-02-001", "S02", "2026-01-20")
    _enrol(api, "HCC-03-001", "S03", "2026-01-10", treated_on="2026-01-11")
    _enrol(api, "HCC-03-002", "S03", "2026-01-12", treated_on="2026-01-13")


def test_a_monitor_of_two_sites_sees_what_the_endpoints_cover_and_nothing_of_other_sites(
        api: Api) -> None:
    monitor = _monitor_of_two_sites(api)
    _trial_at_three_sites(api)
    response = api.get("/api/v1/endpoints", user=monitor, criteria="mRECIST", cutoff=CUTOFF)
    assert response.status_code == 200, response.text
    body = response.json()
    scope = body["scope"]
    assert (scope["sites"], scope["participants"], scope["enrolled"], scope["cutoff"]) == (
        ["S01", "S02"], 2, 3, CUTOFF)
    assert "2 of the 3 participants enrolled at the sites you may read (S01, S02)" in (
        scope["summary"])
    assert body["population"]["enrolled"] == 2 and body["empty"] is False
    assert "S03" not in response.text and "HCC-03" not in response.text
    everyone = api.get("/api/v1/endpoints", user="dm", criteria="mRECIST", cutoff=CUTOFF).json()
    assert (everyone["scope"]["sites"], everyone["scope"]["enrolled"]) == ("all", 5)
    assert "every site" in everyone["scope"]["summary"]


def test_safety_participants_and_audit_trail_state_their_scope(api: Api) -> None:
    monitor = _monitor_of_two_sites(api)
    _trial_at_three_sites(api)
    safety = api.get("/api/v1/safety", user=monitor, cutoff=CUTOFF).json()
    assert (safety["scope"]["participants"], safety["scope"]["enrolled"]) == (1, 3)
    assert safety["treated"] == 1 and "treated by the cutoff" in safety["scope"]["summary"]
    listing = api.get("/api/v1/participants", user=monitor).json()
    assert {p["site_id"] for p in listing["participants"]} == {"S01", "S02"}
    assert (listing["scope"]["sites"], listing["scope"]["participants"]) == (["S01", "S02"], 3)
    trail = api.get("/api/v1/audit-trail", user=monitor).json()
    assert trail["scope"]["sites"] == ["S01", "S02"] and trail["scope"]["enrolled"] == 3
    assert {e["site_id"] for e in trail["entries"]} == {"S01", "S02"}
    for response in (safety, listing, trail):
        assert "S03" not in str(response)


def test_an_as_of_before_the_first_event_answers_an_explicit_empty_state(api: Api) -> None:
    _trial_at_three_sites(api)
    before = api.ledger_state()
    for path in SITE_READS:
        params = {"criteria": "RECIST 1.1"} if path == "/api/v1/endpoints" else {}
        response = api.get(path, user="auditor", as_of=BEFORE_ANYTHING, **params)
        assert response.status_code == 200, f"{path}: {response.text}"
        body = response.json()
        assert body["empty"] is True, path
        assert body["note"] == (f"nothing was recorded as of {BEFORE_ANYTHING.replace('Z', '')}"
                                ".000000Z: the ledger's first event is later"), path
        assert body["scope"]["participants"] == 0 and body["scope"]["as_of"].startswith(
            "2001-01-01T00:00:00"), path
    study = api.get("/api/v1/study", user="dm", as_of=BEFORE_ANYTHING).json()
    assert study["empty"] is True and "nothing was recorded" in study["note"]
    casebook = api.get("/api/v1/participants/HCC-01-001", user="dm", as_of=BEFORE_ANYTHING)
    assert casebook.status_code == 404
    now = api.get("/api/v1/participants", user="auditor").json()
    assert now["empty"] is False and now["note"] is None
    assert api.ledger_state() == before


def test_a_coordinator_of_a_site_with_no_participants_is_told_so(api: Api) -> None:
    _enrol(api, "HCC-01-001", "S01", "2026-01-10", treated_on="2026-01-12")
    listing = api.get("/api/v1/participants", user="coord2").json()
    assert listing["participants"] == [] and listing["empty"] is True
    assert listing["note"] == "no participant is enrolled at the sites you may read (S02)"
    endpoints = api.get("/api/v1/endpoints", user="coord2", criteria="mRECIST").json()
    assert endpoints["empty"] is True and "the sites you may read (S02)" in endpoints["note"]
    assert "S01" not in str(listing) and "S01" not in str(endpoints)


def test_a_misspelt_filter_is_refused_by_name_with_the_known_ones_listed(api: Api) -> None:
    _enrol(api, "HCC-01-001", "S01", "2026-01-10")
    before = api.ledger_state()
    trail = api.get("/api/v1/audit-trail", user="dm", **{"from": "2026-01-01",
                                                         "type": "DoseAdministered"})
    assert trail.status_code == 422, trail.text
    assert trail.headers["content-type"] == "application/problem+json"
    problem = trail.json()
    assert [e["loc"] for e in problem["errors"]] == ["query.from", "query.type"]
    for known in ("after", "limit", "participant_id", "user", "as_of"):
        assert known in problem["detail"]
    endpoints = api.get("/api/v1/endpoints", user="dm", criterion="mRECIST")
    assert endpoints.status_code == 422
    (error,) = [e for e in endpoints.json()["errors"] if e["loc"] == "query.criterion"]
    assert "did you mean criteria?" in error["msg"] and "cutoff, as_of" in error["msg"]
    assert api.get("/api/v1/endpoints", user="dm", criteria="mRECIST").status_code == 200
    casebook = api.get("/api/v1/participants/HCC-01-001", user="dm", asof="2026-01-01")
    assert casebook.status_code == 422 and "did you mean as_of?" in casebook.text
    assert api.ledger_state() == before
