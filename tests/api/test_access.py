"""Authentication and site access on the write and read paths."""

from __future__ import annotations

from tests import story
from tests.api.conftest import PASSWORD, Api


def test_no_token_wrong_token_and_wrong_password_are_401(api: Api) -> None:
    url = "/api/v1/participants/HCC-01-001/events"
    assert api.client.post(url, json=story.enrollment()).status_code == 401
    bad = api.client.post(url, json=story.enrollment(), headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401 and bad.json()["detail"] == "the token is not valid"
    login = api.client.post("/api/v1/auth/token", data={"username": "coord1", "password": "nope"})
    assert login.status_code == 401
    unknown = api.client.post("/api/v1/auth/token", data={"username": "ghost",
                                                          "password": PASSWORD})
    assert unknown.status_code == 401 and unknown.json()["detail"] == login.json()["detail"]


def test_token_shape(api: Api) -> None:
    response = api.client.post("/api/v1/auth/token", data={"username": "coord1",
                                                            "password": PASSWORD})
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60


def test_coordinators_write_only_for_their_site(api: Api) -> None:
    before = api.ledger_state()
    response = api.post("HCC-02-001", story.enrollment(site_id="S02"), user="coord1")
    assert response.status_code == 403 and "S02 is not among your sites" in (
        response.json()["detail"])
    assert api.ledger_state() == before
    assert api.post("HCC-02-001", story.enrollment(site_id="S02"), user="coord2"
                    ).status_code == 201
    dose = api.post("HCC-02-001", story.camrelizumab("2026-01-12"), user="coord1")
    assert dose.status_code == 404  # another site's participant: the same answer as none


def test_monitors_auditors_and_admins_do_not_enter_data(api: Api) -> None:
    for user in ("monitor1", "auditor", "admin"):
        assert api.post("HCC-01-001", story.enrollment(), user=user).status_code == 403


def test_reads_are_limited_to_visible_sites(api: Api) -> None:
    api.post("HCC-01-001", story.enrollment(site_id="S01"), user="coord1")
    api.post("HCC-02-001", story.enrollment(site_id="S02"), user="coord2")
    listed = {p["participant_id"]
              for p in api.get("/api/v1/participants", user="monitor1").json()["participants"]}
    assert listed == {"HCC-01-001"}
    other_site = api.get("/api/v1/participants/HCC-02-001", user="monitor1")
    assert other_site.status_code == 404 and other_site.json()["detail"] == (
        "participant HCC-02-001 is not enrolled at a site you may access")
    assert len(api.get("/api/v1/participants", user="auditor").json()["participants"]) == 2
    assert api.get("/api/v1/participants", user="admin").status_code == 403
    assert api.get("/api/v1/ledger/verify", user="coord1").status_code == 403
    assert api.get("/api/v1/ledger/verify", user="auditor").json()["ok"] is True
