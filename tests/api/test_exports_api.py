"""Exports through the API: who may take which sites away, and every file in the ledger.

A monitor of S01 exports S01 and nothing else; an auditor and a data manager export every
site; a coordinator exports nothing. Every export answers with the file and records it: the
SHA-256 in the answer is the file's, and `GET /api/v1/exports?sha256=` finds the record.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import cast

import httpx
from lxml import etree

from tests import story
from tests.api.conftest import Api

ODM_NS = "{http://www.cdisc.org/ns/odm/v1.3}"


def _two_sites(api: Api) -> None:
    assert api.post("HCC-01-001", story.enrollment("S01")).status_code == 201
    assert api.post("HCC-02-001", story.enrollment("S02", on="2026-01-11"),
                    user="coord2").status_code == 201
    assert api.post("HCC-01-001", story.camrelizumab("2026-01-12")).status_code == 201


def _export(api: Api, user: str, path: str = "/api/v1/exports/odm", **params: object
            ) -> httpx.Response:
    # The test client is an httpx.Client, but untyped here: its answers come back as Any.
    return cast(httpx.Response, api.client.post(path, headers=api.headers(user),
                                                params=params))


def _subjects(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [s.get("SubjectKey") for s in root.iter(f"{ODM_NS}SubjectData")]


def test_an_auditor_exports_the_study_and_the_file_is_recorded(api: Api) -> None:
    _two_sites(api)
    count_before, _ = api.ledger_state()
    head_before = api.client.app.state.ledger.store.head()  # type: ignore[attr-defined]
    answer = api.client.post("/api/v1/exports/odm", headers=api.headers("auditor"),
                             json={"reason": "inspection request 7"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    sha256 = hashlib.sha256(answer.content).hexdigest()
    assert answer.headers["x-export-sha256"] == sha256
    assert sorted(_subjects(answer.content)) == ["HCC-01-001", "HCC-02-001"]
    count_after, _ = api.ledger_state()
    assert count_after == count_before + 1  # the export itself, in the chain

    found = api.get("/api/v1/exports", "auditor", sha256=sha256.upper()).json()["exports"]
    assert len(found) == 1
    record = found[0]
    assert record["exported_by"] == "auditor" and record["role"] == "auditor"
    assert record["reason"] == "inspection request 7"
    # No as_of asked: the export read the ledger as of the newest event before it.
    assert record["scope"] == {"sites": None, "participant_id": None,
                               "as_of": head_before.recorded_at, "cutoff": None}
    assert answer.headers["location"] == f"/api/v1/exports/{record['export_id']}"
    assert api.get(answer.headers["location"], "auditor").json()["files"] == record["files"]
    trail = api.get("/api/v1/audit-trail", "auditor", event_type="ExportProduced").json()
    assert [e["recorded_by"] for e in trail["entries"]] == ["auditor"]


def test_a_monitor_exports_only_their_own_sites(api: Api) -> None:
    _two_sites(api)
    own = _export(api, "monitor1")
    assert own.status_code == 201, own.text
    assert _subjects(own.content) == ["HCC-01-001"]
    assert _export(api, "monitor1", site_id="S02").status_code == 403
    hidden = _export(api, "monitor1", participant_id="HCC-02-001")
    assert hidden.status_code == 404
    assert "HCC-02-001" in hidden.json()["detail"]  # what was asked, nothing more
    assert "S02" not in hidden.text

    _export(api, "auditor")  # a whole-study export: not the monitor's to see
    seen = api.get("/api/v1/exports", "monitor1").json()["exports"]
    assert [view["scope"]["sites"] for view in seen] == [["S01"]]


def test_roles_without_export_rights_are_refused_and_nothing_is_recorded(api: Api) -> None:
    _two_sites(api)
    before = api.ledger_state()
    for user in ("coord1", "invest1", "admin"):
        assert _export(api, user).status_code == 403, user
        assert api.get("/api/v1/exports", user).status_code == 403, user
    assert api.ledger_state() == before


def test_bad_export_requests_say_what_and_where_and_leave_no_trace(api: Api) -> None:
    _two_sites(api)
    before = api.ledger_state()
    cases = [
        ({"site_id": "s01<script>"}, "query.site_id"),
        ({"participant_id": "hcc-01-001"}, "query.participant_id"),
        ({"as_of": "yesterday"}, "query.as_of"),
    ]
    for params, loc in cases:
        answer = _export(api, "auditor", **params)
        assert answer.status_code == 422, (params, answer.text)
        assert loc in answer.text, (params, answer.text)
    missing_cutoff = _export(api, "auditor", "/api/v1/exports/sdtm")
    assert missing_cutoff.status_code == 422 and "query.cutoff" in missing_cutoff.text
    bad_cutoff = _export(api, "auditor", "/api/v1/exports/adam", cutoff="someday")
    assert bad_cutoff.status_code == 422 and "query.cutoff" in bad_cutoff.text
    unknown = api.client.post("/api/v1/exports/odm", headers=api.headers("auditor"),
                              json={"reason": "x", "extra": 1})
    assert unknown.status_code == 422
    assert api.get("/api/v1/exports", "auditor", sha256="abc").status_code == 422
    assert api.get("/api/v1/exports/not-an-id", "auditor").status_code == 422
    assert api.ledger_state() == before


def test_listing_exports_never_writes(api: Api) -> None:
    _two_sites(api)
    _export(api, "auditor")
    before = api.ledger_state()
    assert api.get("/api/v1/exports", "auditor").status_code == 200
    assert api.get("/api/v1/exports", "dm", as_of="2000-01-01T00:00:00Z").json()[
        "exports"] == []
    assert api.ledger_state() == before


def test_an_sdtm_export_is_a_zip_whose_every_file_is_recorded(api: Api) -> None:
    _two_sites(api)
    answer = _export(api, "dm", "/api/v1/exports/sdtm", cutoff="2026-06-30")
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert "dm.xpt" in names and "define.xml" in names
    record = api.get(answer.headers["location"], "dm").json()
    recorded = {f["name"]: f["sha256"] for f in record["files"]}
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        for name in names:
            assert recorded[name] == hashlib.sha256(archive.read(name)).hexdigest()
    assert recorded[answer.headers["content-disposition"].split('"')[1]] == \
        hashlib.sha256(answer.content).hexdigest()
    assert record["scope"]["cutoff"] == "2026-06-30"
