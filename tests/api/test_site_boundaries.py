"""Site boundaries on every write and every refusal, told from the sites' side.

A site coordinator works on their own site's participants only: they cannot move a participant
to another site by correcting the enrolment, and a participant at another site answers exactly
as one that does not exist (no site, no date, no lock reason). A data manager moves a
participant with a transfer, recorded as its own event naming both sites.
"""

from __future__ import annotations

from typing import Any

from tests import story
from tests.api.conftest import Api
from tests.api.part11 import send

OWN = "HCC-01-001"
OTHER = "HCC-02-001"
UNKNOWN = "HCC-02-999"


def _enrol_both(api: Api) -> dict[str, str]:
    ids = {}
    for pid, user, site in ((OWN, "coord1", "S01"), (OTHER, "coord2", "S02")):
        response = api.post(pid, story.enrollment(site_id=site), user=user)
        assert response.status_code == 201, response.text
        ids[pid] = response.json()["event_id"]
    return ids


def _site_of(api: Api, participant_id: str) -> str:
    response = api.get(f"/api/v1/participants/{participant_id}", user="dm")
    assert response.status_code == 200, response.text
    site: str = response.json()["site_id"]
    return site


def _without_id(response: Any, participant_id: str) -> tuple[int, str]:
    return response.status_code, response.text.replace(participant_id, "<id>")


def test_a_coordinator_cannot_move_a_participant_by_correcting_the_enrolment_site(
        api: Api) -> None:
    enrolled = _enrol_both(api)[OWN]
    before = api.ledger_state()
    corrected = story.enrollment(site_id="S02")["data"]
    response = api.post(OWN, story.correction(enrolled, "2026-01-10", corrected), user="coord1")
    assert response.status_code == 403, response.text
    assert "only a data manager" in response.json()["detail"]
    assert api.ledger_state() == before
    assert _site_of(api, OWN) == "S01"


def test_a_coordinator_may_still_correct_other_enrolment_fields(api: Api) -> None:
    enrolled = _enrol_both(api)[OWN]
    corrected = story.enrollment(site_id="S01", ecog=0)["data"]
    response = api.post(OWN, story.correction(enrolled, "2026-01-10", corrected), user="coord1")
    assert response.status_code == 201, response.text
    assert _site_of(api, OWN) == "S01"


def test_a_data_manager_corrects_a_wrongly_entered_enrolment_site(api: Api) -> None:
    enrolled = _enrol_both(api)[OWN]
    corrected = story.enrollment(site_id="S02")["data"]
    response = api.post(OWN, story.correction(enrolled, "2026-01-10", corrected), user="dm")
    assert response.status_code == 201, response.text
    assert _site_of(api, OWN) == "S02"


def test_a_transfer_is_its_own_event_naming_both_sites_and_moves_who_may_see(api: Api) -> None:
    _enrol_both(api)
    response = send(api, "POST", f"/api/v1/participants/{OWN}/transfer", "dm",
                    {"to_site": "S02", "reason": "moved to the regional centre"})
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "ParticipantTransferred"
    events = api.get(f"/api/v1/participants/{OWN}/events", user="dm").json()
    transfer = events[-1]
    assert transfer["type"] == "ParticipantTransferred"
    assert transfer["data"] == {"from_site": "S01", "to_site": "S02"}
    assert transfer["reason"] == "moved to the regional centre"
    assert _site_of(api, OWN) == "S02"
    # The old site's coordinator no longer sees the participant; the new site's does.
    assert api.get(f"/api/v1/participants/{OWN}", user="coord1").status_code == 404
    assert api.get(f"/api/v1/participants/{OWN}", user="coord2").status_code == 200
    dose = api.post(OWN, story.camrelizumab("2026-02-02"), user="coord2")
    assert dose.status_code == 201, dose.text
    listed = {p["participant_id"]
              for p in api.get("/api/v1/participants", user="coord1").json()["participants"]}
    assert OWN not in listed


def test_only_a_data_manager_transfers(api: Api) -> None:
    _enrol_both(api)
    before = api.ledger_state()
    response = send(api, "POST", f"/api/v1/participants/{OWN}/transfer", "coord1",
                    {"to_site": "S02", "reason": "moving"})
    assert response.status_code == 403, response.text
    assert api.ledger_state() == before


def test_a_transfer_to_the_same_site_or_of_a_locked_participant_is_refused(api: Api) -> None:
    _enrol_both(api)
    path = f"/api/v1/participants/{OWN}/transfer"
    same = send(api, "POST", path, "dm", {"to_site": "S01", "reason": "moving"})
    assert same.status_code == 409, same.text
    locked = send(api, "POST", f"/api/v1/participants/{OWN}/lock", "dm", {"reason": "review"})
    assert locked.status_code == 201, locked.text
    before = api.ledger_state()
    refused = send(api, "POST", path, "dm", {"to_site": "S02", "reason": "moving"})
    assert refused.status_code == 409, refused.text
    assert api.ledger_state() == before


def test_another_sites_participant_answers_exactly_like_an_unknown_one(api: Api) -> None:
    _enrol_both(api)
    for path in ("", "/events", "/signatures", "/audit-report"):
        other = api.get(f"/api/v1/participants/{OTHER}{path}", user="coord1")
        unknown = api.get(f"/api/v1/participants/{UNKNOWN}{path}", user="coord1")
        assert other.status_code == 404, (path, other.text)
        assert _without_id(other, OTHER) == _without_id(unknown, UNKNOWN), path
        assert "S02" not in other.text
    as_of = {"as_of": "2030-01-01T00:00:00Z"}
    other = api.get(f"/api/v1/participants/{OTHER}", user="coord1", **as_of)
    unknown = api.get(f"/api/v1/participants/{UNKNOWN}", user="coord1", **as_of)
    assert _without_id(other, OTHER) == _without_id(unknown, UNKNOWN)


def test_a_write_to_another_sites_participant_is_checked_before_any_rule(api: Api) -> None:
    _enrol_both(api)
    locked = send(api, "POST", f"/api/v1/participants/{OTHER}/lock", "dm",
                  {"reason": "confidential safety review of S02"})
    assert locked.status_code == 201, locked.text
    before = api.ledger_state()
    other = api.post(OTHER, story.camrelizumab("2026-02-02"), user="coord1")
    unknown = api.post(UNKNOWN, story.camrelizumab("2026-02-02"), user="coord1")
    assert other.status_code == 404, other.text
    assert _without_id(other, OTHER) == _without_id(unknown, UNKNOWN)
    assert "confidential" not in other.text and "S02" not in other.text
    assert api.ledger_state() == before


def test_enrolling_an_id_taken_at_another_site_says_nothing_about_it(api: Api) -> None:
    _enrol_both(api)
    before = api.ledger_state()
    response = api.post(OTHER, story.enrollment(site_id="S01"), user="coord1")
    assert response.status_code == 409, response.text
    assert "already in use" in response.json()["detail"]
    for secret in ("S02", "2026-01-10", "coord2"):
        assert secret not in response.text
    assert api.ledger_state() == before
