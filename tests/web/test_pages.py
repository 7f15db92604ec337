"""The web app from a site coordinator's, a monitor's and an auditor's side: sign in with the
API's accounts, read the same things the API reads, never write by reading, and refuse what
the access table refuses, in the API's words. Both stores (the `api` fixture)."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any
from urllib.parse import unquote

from tests.story import camrelizumab, correction, enrollment, follow_up, scan
from tests.web.conftest import PASSWORD, Api


def sign_in(api: Api, username: str) -> None:
    """Through the form, as a browser does; the session cookie stays on the client."""
    answer = api.client.post("/app/sign-in", data={"username": username, "password": PASSWORD,
                                                   "next": "/app/participants"},
                             follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/app/participants"


def sign_out(api: Api) -> None:
    api.client.cookies.clear()


def page(api: Api, path: str, **params: Any) -> Any:
    return api.client.get(path, params=params, follow_redirects=False)


def enrol_story(api: Api) -> dict[str, str]:
    """P1 at S01: enrolled, a baseline scan, a dose entered as 100 mg then corrected to 200 mg,
    a follow-up scan; P2 at S02. Returns the event ids and the moment before the correction."""
    assert api.post("HCC-01-001", enrollment("S01", on="2026-01-10")).status_code == 201
    assert api.post("HCC-01-001", scan("2026-01-08", baseline=True, recist_mm=[40, 20],
                                       mrecist_mm=[30, 20])).status_code == 201
    dose = api.post("HCC-01-001", camrelizumab("2026-01-12", dose_mg=100)).json()
    before = api.get("/api/v1/participants/HCC-01-001/events", user="dm").json()[-1]
    fixed = correction(dose["event_id"], date.today().isoformat(),
                       {**camrelizumab("2026-01-12")["data"]},
                       reason="transcription error: 200 mg per the infusion record")
    assert api.post("HCC-01-001", fixed).status_code == 201, "correction"
    assert api.post("HCC-01-001", scan("2026-03-01", baseline=False, recist_mm=[20, 10],
                                       mrecist_mm=[10, 5])).status_code == 201
    assert api.post("HCC-01-001", follow_up("2026-03-10")).status_code == 201
    assert api.post("HCC-02-001", enrollment("S02", on="2026-01-11"),
                    user="coord2").status_code == 201
    return {"dose": dose["event_id"], "before_correction": before["recorded_at"]}


def test_signing_in_gives_a_strict_session_cookie_and_the_participants(api: Api) -> None:
    enrol_story(api)
    anonymous = page(api, "/app/participants")
    assert anonymous.status_code == 303
    assert unquote(anonymous.headers["location"]) == "/app/sign-in?next=/app/participants"
    answer = api.client.post("/app/sign-in", data={"username": "dm", "password": PASSWORD,
                                                   "next": "/app/participants"},
                             follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/app" in cookie
    listed = page(api, "/app/participants")
    assert listed.status_code == 200
    rows = re.findall(r'<th scope="row"><a href="/app/participants/([^"?]+)', listed.text)
    assert rows == ["HCC-01-001", "HCC-02-001"]
    assert "no-store" in listed.headers["cache-control"]
    csp = listed.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_a_wrong_password_is_the_apis_refusal_and_sets_no_cookie(api: Api) -> None:
    events = api.ledger_state()[0]
    answer = api.client.post("/app/sign-in", data={"username": "dm", "password": "wrong",
                                                   "next": "/app/participants"})
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert "role=\"alert\"" in answer.text
    assert api.ledger_state()[0] == events + 1, "the failed attempt is recorded, as the API's"


def test_the_form_never_redirects_elsewhere_nor_accepts_another_sites_post(api: Api) -> None:
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example",
                    "/app/../../x\r\nSet-Cookie: a=b"):
        answer = api.client.post("/app/sign-in", data={"username": "dm", "password": PASSWORD,
                                                       "next": hostile},
                                 follow_redirects=False)
        assert answer.headers["location"] == "/app/participants", hostile
    events = api.ledger_state()[0]
    forged = api.client.post("/app/sign-in", data={"username": "dm", "password": PASSWORD},
                             headers={"Origin": "https://evil.example",
                                      "Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert forged.status_code == 403
    assert api.ledger_state()[0] == events, "a forged sign-in is not even attempted"


def test_a_page_without_a_session_or_with_a_revoked_one_goes_to_sign_in(api: Api) -> None:
    htmx = api.client.get("/app/audit", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 204 and htmx.headers["hx-redirect"].startswith("/app/sign-in")
    sign_in(api, "coord1")
    assert page(api, "/app/participants").status_code == 200
    api.client.post("/api/v1/accounts/coord1/lock", json={"reason": "left the study"},
                    headers=api.headers("admin"))
    assert page(api, "/app/participants").status_code == 303, "a locked account is out at once"


def test_signing_out_needs_the_sessions_csrf_token(api: Api) -> None:
    sign_in(api, "dm")
    refused = api.client.post("/app/sign-out", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 303
    assert page(api, "/app/participants").status_code == 200, "still signed in"
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page(api, "/app/participants").text)
    assert token is not None
    done = api.client.post("/app/sign-out", data={"csrf": token.group(1)},
                           follow_redirects=False)
    assert done.status_code == 303
    assert page(api, "/app/participants").status_code == 303


def test_a_coordinator_sees_only_their_sites_participants(api: Api) -> None:
    enrol_story(api)
    sign_in(api, "coord1")
    listed = page(api, "/app/participants")
    assert "HCC-01-001" in listed.text and "HCC-02-001" not in listed.text
    other = page(api, "/app/participants/HCC-02-001")
    unknown = page(api, "/app/participants/HCC-09-999")
    assert other.status_code == unknown.status_code == 404
    assert "HCC-02-001 is not enrolled at a site you may access" in other.text
    assert other.text.replace("HCC-02-001", "X") == unknown.text.replace("HCC-09-999", "X"), \
        "a refusal tells a stranger nothing"
    assert page(api, "/app/audit").status_code == 403, "coordinators do not read the audit trail"


def test_the_casebook_slides_back_to_what_was_known_before_a_correction(api: Api) -> None:
    ids = enrol_story(api)
    sign_in(api, "monitor1")
    now = page(api, "/app/participants/HCC-01-001")
    assert now.status_code == 200
    dose_item = re.search(rf'data-event-id="{ids["dose"]}">(.*?)</li>\s*<li', now.text, re.DOTALL)
    assert dose_item is not None
    assert "camrelizumab 200 mg IV" in dose_item.group(1)
    assert "transcription error: 200 mg per the infusion record" in dose_item.group(1)
    assert re.search(r"<code>data.dose_mg</code></td><td>100.0</td><td>200.0</td>",
                     dose_item.group(1)), "old and new value of the corrected field"
    assert "coord1" in dose_item.group(1), "who corrected it"
    earlier = page(api, "/app/participants/HCC-01-001", as_of=ids["before_correction"])
    assert earlier.status_code == 200
    assert "camrelizumab 100 mg IV" in earlier.text
    assert "correction" not in earlier.text.split('id="timeline"')[1]
    assert f"As the ledger knew it at <strong>{ids['before_correction']}" in earlier.text
    assert earlier.text.count("<li class=\"k-") < now.text.count("<li class=\"k-")


def test_reading_every_page_writes_nothing(api: Api) -> None:
    ids = enrol_story(api)
    sign_in(api, "dm")
    before = api.ledger_state()
    for path, params in (("/app/participants", {}), ("/app/participants/HCC-01-001", {}),
                         ("/app/participants/HCC-01-001", {"as_of": ids["before_correction"]}),
                         ("/app/audit", {"event_type": "EntryCorrected"}),
                         ("/app/monitoring", {}), ("/app/ledger", {"verify": "full"}),
                         ("/app/endpoints", {"criteria": "mRECIST"}),
                         ("/app/endpoints/plots/km-pfs.svg", {}),
                         ("/app/ledger/downloads/public-key.json", {})):
        answer = page(api, path, **params)
        assert answer.status_code == 200, (path, answer.text[:500])
    assert api.ledger_state() == before


def test_the_plotted_kaplan_meier_steps_are_the_apis_curves(api: Api) -> None:
    enrol_story(api)
    sign_in(api, "dm")
    shown = page(api, "/app/endpoints", criteria="RECIST 1.1", cutoff="2026-06-30")
    assert shown.status_code == 200
    curves = api.get("/api/v1/endpoints/curves", user="dm", criteria="RECIST 1.1",
                     cutoff="2026-06-30").json()["curves"]
    for name in ("pfs", "os"):
        figure = shown.text.split(f'id="figure-km-{name}"')[1].split("</figure>")[0]
        steps = re.search(r'class="km-step"[^>]*data-steps="([^"]*)"', figure) or \
            re.search(r'data-steps="([^"]*)"[^>]*class="km-step"', figure)
        assert steps is not None, name
        plotted = [(int(day), float(s)) for day, s in
                   (pair.split(":") for pair in steps.group(1).split(";"))]
        assert plotted == [(p["day"], p["survival"]) for p in curves[name]["points"]], name
    report = api.get("/api/v1/endpoints", user="dm", criteria="RECIST 1.1",
                     cutoff="2026-06-30").json()
    row = shown.text.split('data-criterion="RECIST 1.1"')[1].split("</tr>")[0]
    assert f"{report['orr']['rate'] * 100:.1f}" in row


def test_hostile_query_parameters_are_refused_with_the_field_named(api: Api) -> None:
    enrol_story(api)
    sign_in(api, "dm")
    for path, params, where in (
            ("/app/participants", {"as_of": "yesterday"}, "as_of"),
            ("/app/participants/HCC-01-001", {"cutoff": "<script>alert(1)</script>"}, "cutoff"),
            ("/app/endpoints", {"criteria": "RECIST 2"}, "criteria"),
            ("/app/audit", {"participant_id": "x' OR 1=1 --"}, "participant_id"),
            ("/app/audit", {"after": "-1"}, "after"),
            ("/app/monitoring", {"state": "<b>"}, "state"),
            ("/app/ledger/downloads/inclusion-proof.json", {"event_id": "../../etc"}, "event_id"),
            ("/app/participants", {"surprise": "1"}, "surprise")):
        answer = page(api, path, **params)
        assert answer.status_code == 422, (path, params, answer.status_code)
        assert where in answer.text
        assert "<script>alert" not in answer.text and "<b>" not in answer.text.split("<main")[1]
    assert page(api, "/app/endpoints/plots/etc.svg").status_code == 404
    assert page(api, "/app/ledger/downloads/secrets.json").status_code == 404


def test_the_access_table_decides_every_page(api: Api) -> None:
    sign_in(api, "admin")
    assert page(api, "/app/participants").status_code == 403
    sign_out(api)
    sign_in(api, "monitor1")
    assert page(api, "/app/ledger").status_code == 403
    assert page(api, "/app/audit").status_code == 200


def test_a_signed_report_comes_back_only_with_its_hash_in_the_ledger(api: Api) -> None:
    enrol_story(api)
    sign_in(api, "dm")
    form = page(api, "/app/report")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert token is not None
    issued = api.client.post("/app/report", data={
        "csrf": token.group(1), "password": PASSWORD, "cutoff": "2026-06-30",
        "meaning": "Approved as the primary analysis"}, follow_redirects=False)
    assert issued.status_code == 200, issued.text[:500]
    assert issued.headers["content-type"] == "application/pdf"
    digest = hashlib.sha256(issued.content).hexdigest()
    assert issued.headers["x-content-sha256"] == digest
    found = api.get("/api/v1/exports", user="dm", sha256=digest).json()
    assert [e["export_id"] for e in found["exports"]] == [issued.headers["x-export-id"]]
    assert found["exports"][0]["scope"]["signature"]["meaning"] == \
        "Approved as the primary analysis"
    events = api.ledger_state()[0]
    wrong = api.client.post("/app/report", data={"csrf": token.group(1), "password": "nope",
                                                 "meaning": "Approved"})
    assert wrong.status_code == 401 and "role=\"alert\"" in wrong.text
    assert api.ledger_state()[0] == events + 1, "only the failed signature attempt is recorded"
    assert len(api.get("/api/v1/exports", user="dm").json()["exports"]) == 1
