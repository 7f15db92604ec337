"""The three reads served by index rather than by scan or fold give the answers the scans and
folds give: an inclusion proof found through the event id index (and refused when the index
is wrong), the participant list from the read model plus the log's tail, and one
participant's audit trail selected by stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from domain.casebook import status
from infra.db import DatabaseURL, create_engine
from services.api.scope import visible_participants
from tests import story
from tests.api.conftest import Api
from tests.integration.conftest import tamper

LEDGER = "/api/v1/ledger"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def owner_engine(store_url: str) -> Iterator[sa.Engine]:
    """The schema owner's connection: a DBA editing tables by hand."""
    engine = create_engine(DatabaseURL.parse(store_url))
    yield engine
    engine.dispose()


def _trial(api: Api) -> list[dict[str, Any]]:
    """Participants at two sites with treatment, a death and a correction; the recorded
    events, in order."""
    events = []

    def post(pid: str, body: dict[str, Any], user: str = "dm") -> None:
        response = api.post(pid, body, user=user)
        assert response.status_code == 201, response.text
        events.append(response.json())

    post("HCC-01-001", story.enrollment(site_id="S01"))
    post("HCC-02-001", story.enrollment(site_id="S02", on="2026-01-11"))
    post("HCC-01-001", story.camrelizumab("2026-01-12", dose_mg=20))
    post("HCC-01-002", story.enrollment(site_id="S01", on="2026-01-12"))
    post("HCC-02-001", story.tace("2026-01-13"))
    post("HCC-01-001", story.correction(events[2]["event_id"], "2026-01-12",
                                        story.camrelizumab("x")["data"]))
    post("HCC-01-002", story.death("2026-02-01"))
    return events


def _projector(api: Api) -> Any:
    return api.client.app.state.projector  # type: ignore[attr-defined]


# -- inclusion proofs by event id --------------------------------------------------------------


def _checkpoint(api: Api) -> int:
    response = api.client.post(f"{LEDGER}/checkpoints", headers=api.headers("auditor"))
    assert response.status_code == 201, response.text
    return int(response.json()["tree_size"])


def _proof(api: Api, event_id: str, **params: Any) -> Any:
    return api.get(f"{LEDGER}/proofs/inclusion", user="auditor", event_id=event_id, **params)


def test_every_event_is_proven_at_its_own_leaf_and_an_unknown_id_is_a_404(api: Api) -> None:
    events = _trial(api)
    size = _checkpoint(api)
    for event in events:
        proof = _proof(api, event["event_id"], tree_size=size)
        assert proof.status_code == 200, proof.text
        body = proof.json()
        assert (body["event_id"], body["position"], body["event_hash"]) == (
            event["event_id"], event["position"], event["hash"])
    upper = _proof(api, events[0]["event_id"].upper(), tree_size=size)
    assert upper.status_code == 200 and upper.json()["position"] == events[0]["position"]
    missing = _proof(api, UNKNOWN)
    assert missing.status_code == 404 and "no event with event_id" in missing.text


def test_a_wrong_index_row_is_refused_never_a_proof_of_another_event(
        api: Api, owner_engine: sa.Engine) -> None:
    events = _trial(api)
    size = _checkpoint(api)
    first, other = events[0], events[3]
    tamper(owner_engine, f"INSERT INTO ledger_event_ids VALUES ('{UNKNOWN}', {other['position']})",
           f"UPDATE ledger_event_ids SET position = {other['position']} "
           f"WHERE event_id = '{first['event_id']}'", tables=("ledger_event_ids",))
    for event_id in (UNKNOWN, first["event_id"]):
        refused = _proof(api, event_id, tree_size=size)
        assert refused.status_code == 409, refused.text
        assert "cannot be proven" in refused.text and "another event id" in refused.text
    # The event the rows point at is still proven as itself.
    proof = _proof(api, other["event_id"], tree_size=size).json()
    assert (proof["event_id"], proof["position"]) == (other["event_id"], other["position"])
    tamper(owner_engine, f"DELETE FROM ledger_event_ids WHERE event_id = '{first['event_id']}'",
           tables=("ledger_event_ids",))
    assert _proof(api, first["event_id"], tree_size=size).status_code == 404


# -- the participant list ---------------------------------------------------------------------


def _listed(api: Api, user: str) -> dict[str, Any]:
    response = api.get("/api/v1/participants", user=user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _folded(api: Api, sites: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """What the list held when it folded every participant."""
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    return [{"participant_id": p.id, "site_id": p.site_id, "status": status(p),
             "version": p.version} for p in visible_participants(ledger, sites, None)]


USERS = {"dm": None, "coord1": ("S01",), "coord2": ("S02",), "auditor": None}


def _check_list(api: Api) -> None:
    for user, sites in USERS.items():
        if user == "auditor":
            continue
        body = _listed(api, user)
        expected = _folded(api, sites)
        assert body["participants"] == expected, user
        assert (body["scope"]["participants"], body["scope"]["enrolled"]) == (
            len(expected), len(expected))
        assert body["empty"] is (not expected)


def test_the_list_is_the_fold_before_during_and_after_projection(api: Api) -> None:
    _check_list(api)  # nothing recorded yet
    _trial(api)
    _check_list(api)  # nothing projected: every participant folded from the log
    _projector(api).run_batch(limit=4)
    _check_list(api)  # half projected
    _projector(api).catch_up()
    _check_list(api)  # all from the read model
    assert api.post("HCC-02-001", story.death("2026-02-02"), user="coord2").status_code == 201
    assert api.post("HCC-02-002", story.enrollment(site_id="S02", on="2026-01-20"),
                    user="coord2").status_code == 201
    listed = _listed(api, "coord2")["participants"]  # its own writes, at once
    assert [(p["participant_id"], p["status"]) for p in listed] == [
        ("HCC-02-001", "dead"), ("HCC-02-002", "on_treatment")]
    _check_list(api)


def test_a_current_read_model_answers_without_folding_and_a_write_folds_only_its_stream(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _trial(api)
    _projector(api).catch_up()
    expected = _folded(api, None)
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    folded: list[str] = []
    original = ledger.participant

    def counting(participant_id: str, **kwargs: Any) -> Any:
        folded.append(participant_id)
        return original(participant_id, **kwargs)

    monkeypatch.setattr(ledger, "participant", counting)
    assert _listed(api, "dm")["participants"] == expected
    assert folded == []
    assert api.post("HCC-01-001", story.follow_up("2026-02-03")).status_code == 201
    folded.clear()
    listed = _listed(api, "dm")["participants"]
    assert folded == ["HCC-01-001"]
    assert listed[0] == {**expected[0], "version": expected[0]["version"] + 1}
    assert listed[1:] == expected[1:]


def test_as_of_reads_still_fold_at_that_time(api: Api) -> None:
    events = _trial(api)
    _projector(api).catch_up()
    as_of = events[3]["recorded_at"]
    body = api.get("/api/v1/participants", user="dm", as_of=as_of).json()
    assert [(p["participant_id"], p["version"]) for p in body["participants"]] == [
        ("HCC-01-001", 2), ("HCC-01-002", 1), ("HCC-02-001", 1)]


# -- one participant's audit trail ---------------------------------------------------------------


def _trail(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("/api/v1/audit-trail", user="auditor", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _pages(api: Api, limit: int, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _trail(api, after=after, limit=limit, **params)
        entries += page["entries"]
        if not page["entries"]:
            return entries
        after = page["next_after"]


@pytest.mark.parametrize("projected", [0, 3, None])
def test_a_participants_trail_is_the_whole_trail_filtered(api: Api, projected: int | None
                                                          ) -> None:
    _trial(api)
    if projected is None:
        _projector(api).catch_up()
    elif projected:
        _projector(api).run_batch(limit=projected)
    whole = _pages(api, limit=1000)
    assert [e["verified"] for e in whole] == [True] * len(whole)
    for pid in ("HCC-01-001", "HCC-01-002", "HCC-02-001", "HCC-09-999"):
        expected = [e for e in whole if e["participant_id"] == pid]
        assert _trail(api, participant_id=pid)["entries"] == expected
        assert _pages(api, limit=1, participant_id=pid) == expected


def test_a_read_model_row_moved_to_another_stream_still_shows_under_the_chains_stream(
        api: Api, owner_engine: sa.Engine) -> None:
    events = _trial(api)
    _projector(api).catch_up()
    dose = events[2]
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_feed SET stream_id = 'HCC-02-001', "
                             "participant_id = 'HCC-02-001' WHERE position = :p"),
                     {"p": dose["position"]})
    mine = _trail(api, participant_id="HCC-01-001")["entries"]
    shown = [e for e in mine if e["position"] == dose["position"]]
    assert len(shown) == 1 and shown[0]["participant_id"] == "HCC-01-001"
    assert shown[0]["verified"] is False
    theirs = _trail(api, participant_id="HCC-02-001")["entries"]
    assert dose["position"] not in [e["position"] for e in theirs]
