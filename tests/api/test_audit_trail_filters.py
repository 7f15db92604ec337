"""An auditor narrows the audit trail to a site, a user, an event type and a recorded-time
range, alone or together, and pages through exactly the matching entries; a monitor sees only
the entries of the sites they may read (the participant's site when the entry was recorded),
and a site they may not read answers as a site with no entries; a bad filter is a 422 naming
it, and no read writes anything."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from domain.account import Account
from infra.db import DatabaseURL, create_engine
from infra.ledger.chain import format_recorded_at, parse_recorded_at
from tests import story
from tests.api.conftest import PASSWORD_HASH, Api
from tests.api.test_gets_never_write import snapshot

TRAIL = "/api/v1/audit-trail"
Entry = dict[str, Any]


@pytest.fixture
def owner_engine(store_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(DatabaseURL.parse(store_url))
    yield engine
    engine.dispose()


def _account(api: Api, username: str, role: str, sites: list[str]) -> None:
    api.client.app.state.ledger.create_account(Account.create(  # type: ignore[attr-defined]
        username=username, full_name=username.title(), role=role, sites=sites,
        password_hash=PASSWORD_HASH, event_id=str(uuid.uuid4()), actor="setup",
        actor_role="system"))


def two_sites(api: Api) -> dict[str, Entry]:
    """HCC-01-001 at S01 and HCC-02-001 at S02, written by four users; a mis-keyed dose is
    corrected by the data manager; HCC-02-001 then moves to S01, where coord1 follows up.
    A monitor of S01 and S03 (S03 has no participant) is created first. The recorded events,
    by name."""
    _account(api, "monitor13", "monitor", ["S01", "S03"])
    recorded: dict[str, Entry] = {}

    def post(name: str, pid: str, body: dict[str, Any], user: str) -> None:
        response = api.post(pid, body, user=user)
        assert response.status_code == 201, response.text
        recorded[name] = response.json()

    post("enrol1", "HCC-01-001", story.enrollment(site_id="S01"), "coord1")
    post("enrol2", "HCC-02-001", story.enrollment(site_id="S02", on="2026-01-11"), "coord2")
    post("dose1", "HCC-01-001", story.camrelizumab("2026-01-12", dose_mg=20), "invest1")
    post("tace2", "HCC-02-001", story.tace("2026-01-13"), "coord2")
    post("fix1", "HCC-01-001", story.correction(
        recorded["dose1"]["event_id"], "2026-01-12", story.camrelizumab("x")["data"],
        reason="dose transcribed from the wrong line"), "dm")
    post("contact2", "HCC-02-001", story.follow_up("2026-01-20"), "coord2")
    post("dose2", "HCC-02-001", story.camrelizumab("2026-01-21"), "dm")
    moved = api.client.post("/api/v1/participants/HCC-02-001/transfer",
                            headers=api.headers("dm"),
                            json={"to_site": "S01", "reason": "care moved to S01"})
    assert moved.status_code == 201, moved.text
    recorded["move2"] = moved.json()
    post("contact2b", "HCC-02-001", story.follow_up("2026-02-03"), "coord1")
    post("ae1", "HCC-01-001", story.adverse_event("AE1", "2026-02-04", grade=2), "coord1")
    return recorded


def page(api: Api, caller: str = "auditor", **params: Any) -> dict[str, Any]:
    response = api.client.get(TRAIL, headers=api.headers(caller), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(api: Api, limit: int, caller: str = "auditor", **params: Any) -> list[Entry]:
    """Every entry, page by page (`next_after` back as `after`), until a page is empty."""
    entries: list[Entry] = []
    after = 0
    while True:
        body = page(api, caller, after=after, limit=limit, **params)
        entries += body["entries"]
        if not body["entries"]:
            return entries
        assert body["next_after"] > after
        after = body["next_after"]


def positions(entries: list[Entry]) -> list[int]:
    return [e["position"] for e in entries]


def project(api: Api, projected: int | None) -> None:
    """What the worker has done: nothing (0), `projected` events, or everything (None)."""
    runner = api.client.app.state.projector  # type: ignore[attr-defined]
    if projected is None:
        runner.catch_up()
    elif projected:
        runner.run_batch(limit=projected)


PROJECTED = [0, 12, None]
"""The worker: not run, run over the eight accounts and the first four events of the story
(the rest is read from the log), caught up."""


@pytest.mark.parametrize("projected", PROJECTED)
def test_each_filter_alone_gives_exactly_its_entries_in_order(api: Api, projected: int | None
                                                              ) -> None:
    events = two_sites(api)
    project(api, projected)
    whole = walk(api, limit=1000)
    assert all(e["verified"] for e in whole)
    assert positions(whole) == sorted(positions(whole))
    at = {name: event["position"] for name, event in events.items()}

    s01 = page(api, site_id="S01")["entries"]
    assert positions(s01) == [at[n] for n in ("enrol1", "dose1", "fix1", "contact2b", "ae1")]
    s02 = page(api, site_id="S02")["entries"]  # the transfer is recorded at the site it left
    assert positions(s02) == [at[n] for n in ("enrol2", "tace2", "contact2", "dose2", "move2")]
    assert page(api, site_id="S03")["entries"] == []

    by_dm = page(api, user="dm")["entries"]
    assert positions(by_dm) == [at["fix1"], at["dose2"], at["move2"]]
    assert {e["role"] for e in by_dm} == {"data_manager"}
    assert positions(page(api, user="coord1")["entries"]) == [
        at["enrol1"], at["contact2b"], at["ae1"]]

    fixes = page(api, event_type="EntryCorrected")["entries"]
    assert [(e["position"], e["event_id"], e["reason"]) for e in fixes] == [
        (at["fix1"], events["fix1"]["event_id"], "dose transcribed from the wrong line")]
    assert {"field": "data.dose_mg", "old": 20.0, "new": 200.0} in fixes[0]["changes"]
    contacts = page(api, event_type="FollowUpContact")["entries"]
    assert positions(contacts) == [at["contact2"], at["contact2b"]]
    accounts = page(api, event_type="AccountCreated")["entries"]
    assert {e["stream_id"] for e in accounts} >= {"account:monitor13", "account:auditor"}

    first, last = _recorded(whole, at["tace2"]), _recorded(whole, at["dose2"])
    window = page(api, recorded_from=first, recorded_to=last)["entries"]
    assert positions(window) == [at[n] for n in ("tace2", "fix1", "contact2", "dose2")]
    assert positions(page(api, recorded_from=first)["entries"]) == [
        p for p in positions(whole) if p >= at["tace2"]]
    assert positions(page(api, recorded_to=last)["entries"]) == [
        p for p in positions(whole) if p <= at["dose2"]]
    exact = page(api, recorded_from=first, recorded_to=first)["entries"]
    assert positions(exact) == [at["tace2"]]
    assert page(api, as_of=last)["entries"] == page(api, recorded_to=last)["entries"]


def _recorded(entries: list[Entry], position: int) -> str:
    return str(next(e["recorded_at"] for e in entries if e["position"] == position))


def _shifted(recorded_at: str, microseconds: int) -> str:
    return format_recorded_at(parse_recorded_at(recorded_at)
                              + timedelta(microseconds=microseconds))


@pytest.mark.parametrize("projected", PROJECTED)
def test_filters_combine_and_a_paged_walk_returns_every_match_once(api: Api,
                                                                    projected: int | None
                                                                    ) -> None:
    events = two_sites(api)
    project(api, projected)
    whole = walk(api, limit=1000)
    at = {name: event["position"] for name, event in events.items()}
    start = _shifted(_recorded(whole, at["dose1"]), 1)  # just after dose1: excludes it
    end = _recorded(whole, at["contact2b"])
    cases: list[tuple[dict[str, Any], Callable[[Entry], bool]]] = [
        ({"site_id": "S01", "event_type": "DoseAdministered"},
         lambda e: e["site_id"] == "S01" and e["type"] == "DoseAdministered"),
        ({"site_id": "S02", "user": "coord2"},
         lambda e: e["site_id"] == "S02" and e["recorded_by"] == "coord2"),
        ({"participant_id": "HCC-02-001", "site_id": "S01"},
         lambda e: e["participant_id"] == "HCC-02-001" and e["site_id"] == "S01"),
        ({"user": "dm", "recorded_from": start, "recorded_to": end},
         lambda e: e["recorded_by"] == "dm" and start <= e["recorded_at"] <= end),
        ({"site_id": "S01", "user": "coord1", "event_type": "FollowUpContact",
          "recorded_from": start, "recorded_to": end},
         lambda e: (e["site_id"], e["recorded_by"], e["type"]) == (
             "S01", "coord1", "FollowUpContact") and start <= e["recorded_at"] <= end),
        ({"event_type": "EntryCorrected", "participant_id": "HCC-02-001"}, lambda e: False),
        ({"participant_id": "HCC-01-001", "recorded_from": start},
         lambda e: e["participant_id"] == "HCC-01-001" and e["recorded_at"] >= start),
    ]
    for params, wanted in cases:
        expected = [e for e in whole if wanted(e)]
        assert page(api, **params)["entries"] == expected, params
        for limit in (1, 2):
            walked = walk(api, limit=limit, **params)
            assert walked == expected, (params, limit)
    assert positions(page(api, site_id="S01", event_type="DoseAdministered")["entries"]) == [
        at["dose1"]]
    assert positions(walk(api, 1, user="dm", recorded_from=start, recorded_to=end)) == [
        at["fix1"], at["dose2"], at["move2"]]
    combined = page(api, site_id="S01", user="coord1", event_type="FollowUpContact",
                    recorded_from=start, recorded_to=end)
    assert positions(combined["entries"]) == [at["contact2b"]]
    assert combined["empty"] is False and combined["note"] is None


def test_a_time_with_an_offset_is_the_same_instant_and_as_of_ends_the_range(api: Api) -> None:
    events = two_sites(api)
    whole = walk(api, limit=1000)
    at = {name: event["position"] for name, event in events.items()}
    start = parse_recorded_at(_recorded(whole, at["fix1"]))
    in_paris = (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+01:00"
    zulu = page(api, recorded_from=format_recorded_at(start))["entries"]
    assert page(api, recorded_from=in_paris)["entries"] == zulu
    assert positions(zulu)[0] == at["fix1"]
    as_of = _recorded(whole, at["dose2"])
    ended = page(api, recorded_from=in_paris, as_of=as_of)["entries"]
    assert positions(ended) == [at["fix1"], at["contact2"], at["dose2"]]
    later = _recorded(whole, at["ae1"])
    assert page(api, recorded_from=in_paris, recorded_to=later, as_of=as_of)["entries"] == ended


@pytest.mark.parametrize("projected", [0, None])
def test_a_monitor_sees_only_their_sites_at_the_time_and_an_unreadable_site_as_an_empty_one(
        api: Api, projected: int | None) -> None:
    events = two_sites(api)
    project(api, projected)
    whole = walk(api, limit=1000)
    at = {name: event["position"] for name, event in events.items()}
    mine = walk(api, 2, caller="monitor13")
    assert mine == [e for e in whole if e["site_id"] in ("S01", "S03")]
    assert positions(mine) == [at[n] for n in ("enrol1", "dose1", "fix1", "contact2b", "ae1")]
    assert walk(api, 1, caller="monitor13", participant_id="HCC-02-001") == [
        e for e in whole if e["position"] == at["contact2b"]]  # after the transfer only
    assert page(api, caller="monitor13", site_id="S01")["entries"] == mine

    as_of = _recorded(whole, at["ae1"])
    answers = {}
    for site in ("S02", "S03", "S09"):  # data but not theirs; theirs but empty; no such site
        response = api.client.get(TRAIL, headers=api.headers("monitor13"),
                                  params={"site_id": site, "as_of": as_of})
        assert response.status_code == 200, response.text
        answers[site] = response.content
    assert answers["S02"] == answers["S03"] == answers["S09"]
    body = page(api, caller="monitor13", site_id="S02", as_of=as_of)
    assert body["entries"] == [] and body["empty"] is True
    assert body["note"] == "no audit entry matches these filters"
    assert body["scope"]["sites"] == ["S01", "S03"] and "S02" not in str(body)
    for params in ({"site_id": "S02", "event_type": "TACEPerformed"},
                   {"site_id": "S02", "participant_id": "HCC-02-001"}):
        assert walk(api, 1, caller="monitor13", **params) == []
    assert page(api, site_id="S02", event_type="TACEPerformed")["entries"] != []  # auditor


BAD = [
    ({"event_type": "DoseAdministred"}, ["query.event_type"],
     "did you mean DoseAdministered?"),
    ({"event_type": "DoseGiven"}, ["query.event_type"], "not an event type"),
    ({"event_type": "Dose Administered"}, ["query.event_type"], ""),
    ({"event_type": "x" * 65}, ["query.event_type"], ""),
    ({"recorded_from": "yesterday"}, ["query.recorded_from"], "RFC 3339"),
    ({"recorded_to": "2026-13-01T00:00:00Z"}, ["query.recorded_to"], "RFC 3339"),
    ({"recorded_from": "2026-01-01T00:00:00"}, ["query.recorded_from"], "Z or an offset"),
    ({"recorded_from": "2026-02-01T00:00:00Z", "recorded_to": "2026-01-01T00:00:00Z"},
     ["query.recorded_to"], "earlier than recorded_from"),
    ({"recorded_from": "soon", "recorded_to": "later", "event_type": "Nope"},
     ["query.event_type", "query.recorded_from", "query.recorded_to"], ""),
    ({"site_id": "s01"}, ["query.site_id"], ""),
    ({"site_id": "S01' OR '1'='1"}, ["query.site_id"], ""),
    ({"site_id": "S01;DROP TABLE audit_feed"}, ["query.site_id"], ""),
    ({"user": "u" * 65}, ["query.user"], ""),
    ({"participant_id": "hcc-01-001"}, ["query.participant_id"], ""),
    ({"site": "S01"}, ["query.site"], "did you mean site_id?"),
]


@pytest.mark.parametrize(("params", "locs", "says"), BAD)
def test_a_bad_filter_is_a_422_naming_it_and_changes_nothing(
        api: Api, owner_engine: sa.Engine, params: dict[str, str], locs: list[str],
        says: str) -> None:
    api.post("HCC-01-001", story.enrollment())
    before, tables = api.ledger_state(), snapshot(owner_engine)
    response = api.client.get(TRAIL, headers=api.headers("auditor"), params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert sorted(e["loc"] for e in problem["errors"]) == locs
    assert says in problem["detail"] or any(says in e["msg"] for e in problem["errors"])
    assert api.ledger_state() == before and snapshot(owner_engine) == tables


def test_a_plus_sent_unencoded_is_refused_with_the_fix(api: Api) -> None:
    response = api.client.get(f"{TRAIL}?recorded_from=2026-01-01T00:00:00+01:00",
                              headers=api.headers("auditor"))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == "query.recorded_from" and "%2B" in error["msg"]


def test_hostile_text_is_only_ever_a_value_and_reads_write_nothing(
        api: Api, owner_engine: sa.Engine) -> None:
    two_sites(api)
    project(api, 4)  # the read models are behind the log
    before, tables = api.ledger_state(), snapshot(owner_engine)
    for user in ("dm' OR '1'='1", "dm\"; DELETE FROM audit_feed; --", "%", "_m"):
        body = page(api, user=user, site_id="S01")
        assert body["entries"] == [] and body["empty"] is True
    for params in ({"site_id": "S01", "event_type": "DoseAdministered"},
                   {"user": "dm", "recorded_from": "2000-01-01T00:00:00Z"},
                   {"recorded_to": "0999-12-31T23:59:59Z"},
                   {"recorded_from": "9999-12-31T23:59:59Z"},
                   {"participant_id": "HCC-02-001", "site_id": "S02", "limit": 1}):
        page(api, **params)
        page(api, caller="monitor13", **params)
    assert page(api, recorded_to="0999-12-31T23:59:59Z")["entries"] == []
    assert page(api, recorded_from="9999-12-31T23:59:59Z")["entries"] == []
    assert api.ledger_state() == before and snapshot(owner_engine) == tables


def test_an_account_change_applies_to_the_very_next_read(api: Api) -> None:
    two_sites(api)
    assert positions(page(api, caller="monitor13", site_id="S02")["entries"]) == []
    sites = api.client.post("/api/v1/accounts/monitor13/sites", headers=api.headers("admin"),
                            json={"sites": ["S02"], "reason": "now monitors S02 only"})
    assert sites.status_code == 200, sites.text
    now = page(api, caller="monitor13")
    assert now["scope"]["sites"] == ["S02"]
    assert {e["site_id"] for e in now["entries"]} == {"S02"}
    locked = api.client.post("/api/v1/accounts/monitor13/lock", headers=api.headers("admin"),
                             json={"reason": "left the study"})
    assert locked.status_code == 200, locked.text
    refused = api.client.get(TRAIL, headers=api.headers("monitor13"))
    assert refused.status_code == 401 and "locked" in refused.json()["detail"]


def test_a_later_read_sees_new_entries_under_the_same_filters(api: Api) -> None:
    events = two_sites(api)
    project(api, None)
    first = page(api, site_id="S01", event_type="AdverseEventReported")
    assert positions(first["entries"]) == [events["ae1"]["position"]]
    later = api.post("HCC-02-001", story.adverse_event("AE2", "2026-02-05"), user="coord1")
    assert later.status_code == 201, later.text
    again = page(api, site_id="S01", event_type="AdverseEventReported",
                 after=first["next_after"])
    assert positions(again["entries"]) == [later.json()["position"]]
    assert again["entries"][0]["verified"] is True
    stamp = datetime.fromisoformat(again["entries"][0]["recorded_at"])
    assert stamp.tzinfo is not None
