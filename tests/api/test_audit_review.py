"""An auditor reviews the audit trail over a window (EMA 2023 §6.2.2): a site coordinator's
entry outside working hours, a dose entered 40 days after it was given, six corrections in a
few minutes, five failed sign-ins and a monitor reaching for another site's participant each
appear in the report with the entries they come from; the auditor records a signed review
bound to the report's hash, listed as of after it and not as of before. A monitor sees only
their own sites. Bad input is a 422 naming the parameter; no read writes anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from domain.audit_review import WEEKDAYS
from infra.db import DatabaseURL, create_engine
from tests import story
from tests.api.conftest import PASSWORD, Api
from tests.api.test_gets_never_write import snapshot

REPORT, REVIEWS = "/api/v1/audit-review", "/api/v1/audit-reviews"
S01, S02 = "HCC-01-001", "HCC-02-001"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The service with refused POSTs on participants recorded (off by default)."""
    return settings.model_copy(update={"record_access_refusals": True})


@pytest.fixture
def owner_engine(store_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(DatabaseURL.parse(store_url))
    yield engine
    engine.dispose()


def _days_ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


def night_shift() -> dict[str, str]:
    """Working hours that leave out today and tomorrow (UTC): every entry the story records
    now is outside them, as an entry made at 23:30 is outside 07:00-19:00."""
    today = datetime.now(UTC).weekday()
    days = [d for i, d in enumerate(WEEKDAYS) if i not in (today, (today + 1) % 7)]
    return {"work_start": "07:00", "work_end": "19:00", "work_days": ",".join(days)}


ALL_DAY = {"work_start": "00:00", "work_end": "24:00", "work_days": ",".join(WEEKDAYS)}
"""Working hours that cover every moment: no entry is outside them."""


def posted(api: Api, pid: str, body: dict[str, Any], user: str) -> dict[str, Any]:
    response = api.post(pid, body, user=user)
    assert response.status_code == 201, response.text
    recorded: dict[str, Any] = response.json()
    return recorded


def trail(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/audit-trail", user="auditor", limit=1000, **params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def the_story(api: Api) -> dict[str, Any]:
    """What happened, by name: entries (their positions) and refusals."""
    seen: dict[str, Any] = {}
    seen["enrol"] = posted(api, S01, story.enrollment(on=_days_ago(45)), "coord1")
    posted(api, S02, story.enrollment(site_id="S02", on=_days_ago(10)), "coord2")
    posted(api, S01, story.scan(_days_ago(46), baseline=True, recist_mm=[50],
                                mrecist_mm=[50]), "coord1")
    seen["dose"] = posted(api, S01, story.camrelizumab(_days_ago(40), dose_mg=20), "coord1")
    seen["scan"] = posted(api, S01, story.scan(_days_ago(1), baseline=False, recist_mm=[40],
                                               mrecist_mm=[30]), "coord1")
    seen["fixes"] = [posted(api, S01, story.correction(
        seen["dose"]["event_id"], _days_ago(0), story.camrelizumab("x", dose_mg=200 + i)["data"],
        reason=f"dose re-read from the pharmacy log ({i})"), "dm") for i in range(6)]
    for _ in range(5):
        assert api.login("coord2", "not the password").status_code == 401
    for _ in range(3):
        assert api.login("no.such.user", "guess").status_code == 401
    seen["failures"] = [e for e in trail(api) if e["stream_id"] == "account:coord2"
                        and e["type"] in ("LoginFailed", "AccountLocked")]
    before = api.ledger_state()
    read = api.get(f"/api/v1/participants/{S02}", user="monitor1")
    assert read.status_code == 404, read.text
    assert api.ledger_state() == before  # a refused read writes nothing...
    assert '"access_refused"' in api.log.getvalue()  # ...it is in the request log
    export = api.client.post("/api/v1/exports/odm", params={"participant_id": S02},
                             headers=api.headers("monitor1"))
    assert export.status_code == 404, export.text
    assert export.json()["detail"] == read.json()["detail"]  # the same words as any 404
    unknown = api.client.post("/api/v1/exports/odm", params={"participant_id": "HCC-09-999"},
                              headers=api.headers("monitor1"))
    assert unknown.status_code == 404, unknown.text
    seen["refused"] = trail(api, event_type="AccessRefused")
    # An unknown id is recorded as another site's participant is: the ledger's growth tells
    # the caller nothing.
    assert [(e["recorded_by"], e["site_id"]) for e in seen["refused"]] == [
        ("monitor1", "S02"), ("monitor1", None)]
    return seen


def report(api: Api, user: str = "auditor", **params: Any) -> dict[str, Any]:
    response = api.get(REPORT, user=user, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def of_kind(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in body["findings"] if f["kind"] == kind]


def test_each_story_event_is_a_finding_naming_its_entries(api: Api) -> None:
    seen = the_story(api)
    body = report(api, **night_shift())
    outside = of_kind(body, "outside_working_hours")
    mine = [f for f in outside if f["subject"] == "coord1"]
    assert len(mine) == 1 and seen["scan"]["position"] in mine[0]["positions"]
    assert seen["scan"]["event_id"] in mine[0]["event_ids"]
    assert not of_kind(report(api, **ALL_DAY), "outside_working_hours")

    late = {f["positions"][0]: f for f in of_kind(body, "late_entry")}
    assert seen["dose"]["position"] in late and "40 days" in late[seen["dose"]["position"]][
        "summary"]
    assert seen["enrol"]["position"] in late and seen["scan"]["position"] not in late
    assert all(p not in late for p in (fix["position"] for fix in seen["fixes"]))

    fixes = [fix["position"] for fix in seen["fixes"]]
    for kind in ("many_corrections", "bulk_edits"):
        (found,) = of_kind(body, kind)
        assert (found["subject"], found["positions"]) == ("dm", fixes), found

    failed = {f["subject"]: f for f in of_kind(body, "failed_sign_ins")}
    assert failed["coord2"]["positions"] == [e["position"] for e in seen["failures"]]
    assert [e["type"] for e in failed["coord2"]["entries"]].count("LoginFailed") == 5
    assert "1 automatic lockout" in failed["coord2"]["summary"]
    (unknown,) = [f for s, f in failed.items() if s.startswith("unknown username ")]
    assert len(unknown["positions"]) == 3 and "no.such.user" not in str(unknown)

    (refused,) = of_kind(body, "access_outside_sites")
    assert refused["subject"] == "monitor1" and refused["sites"] == ["S02"]
    assert refused["positions"] == [e["position"] for e in seen["refused"]]
    assert S02 in refused["summary"] and "HCC-09-999 (not enrolled)" in refused["summary"]
    assert body["counts"]["unverified_entry"] == 0
    assert body["head_position"] == max(e["position"] for e in trail(api))


def test_a_monitor_reviews_only_their_own_sites(api: Api) -> None:
    the_story(api)
    mine = report(api, "monitor1", **night_shift())
    assert mine["sites"] == ["S01"]
    assert {e["site_id"] for f in mine["findings"] for e in f["entries"]} == {"S01"}
    assert not of_kind(mine, "failed_sign_ins") and not of_kind(mine, "access_outside_sites")
    other = report(api, "monitor1", site_id="S02")
    assert other["findings"] == [] and other["sites"] == []
    s02 = report(api, "auditor", site_id="S02", **ALL_DAY)
    assert [f["kind"] for f in s02["findings"]] == ["access_outside_sites"]
    assert api.get(REPORT, user="coord1").status_code == 403
    assert api.client.post(REVIEWS, json={}, headers=api.headers("coord1")).status_code == 403


def _review_body(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    notes = [{"finding_id": f["finding_id"], "note": f"explained: {f['kind']}"}
             for f in body["findings"][:2]]
    return {**body["window"], **{k: body["rules"][k] for k in (
        "work_start", "work_end", "work_days", "utc_offset")},
            "report_hash": body["report_hash"], "findings": notes,
            "conclusion": "No sign of unauthorised change; two findings followed up.",
            "meaning": "I reviewed this audit trail", "password": PASSWORD, **extra}


def test_a_signed_review_binds_to_the_report_and_lists_as_of(api: Api) -> None:
    the_story(api)
    body = report(api, **night_shift())
    again = report(api, **night_shift(), recorded_from=body["window"]["recorded_from"],
                   recorded_to=body["window"]["recorded_to"])
    assert again["report_hash"] == body["report_hash"]  # the same window reads the same
    before_review = body["window"]["recorded_to"]
    post = api.client.post(REVIEWS, json=_review_body(body), headers=api.headers("auditor"))
    assert post.status_code == 201, post.text
    review = post.json()
    assert (review["full_name"], review["meaning"]) == ("Auditor", "I reviewed this audit trail")
    assert review["report_hash"] == body["report_hash"]
    assert review["head_position"] == body["head_position"]
    assert review["finding_ids"] == [f["finding_id"] for f in body["findings"]]
    assert len(review["not_addressed"]) == len(body["findings"]) - 2
    assert review["signed_at"] > before_review
    (entry,) = trail(api, event_type="AuditReviewRecorded")
    assert (entry["position"], entry["recorded_by"]) == (review["position"], "auditor")
    # The review itself is recorded after the window: the report over it is unchanged, read
    # from the log or, once the worker has run, from the read model.
    assert report(api, **night_shift(), **body["window"])["report_hash"] == body["report_hash"]
    api.client.app.state.projector.catch_up()  # type: ignore[attr-defined]
    assert report(api, **night_shift(), **body["window"])["report_hash"] == body["report_hash"]
    verified = api.get("/api/v1/ledger/verify", user="dm", read_models="true")
    assert verified.status_code == 200 and verified.json()["ok"], verified.text

    def listed(**params: Any) -> list[str]:
        answer = api.get(REVIEWS, user="auditor", **params)
        assert answer.status_code == 200, answer.text
        return [r["review_id"] for r in answer.json()["reviews"]]

    assert listed() == [review["review_id"]]
    assert listed(as_of=review["signed_at"]) == [review["review_id"]]
    assert listed(as_of=before_review) == []
    assert api.get(REVIEWS, user="monitor1").json()["reviews"] == []  # every site: not theirs


def test_a_review_is_refused_for_a_wrong_password_a_stale_hash_or_an_unknown_finding(
        api: Api) -> None:
    the_story(api)
    body = report(api, **night_shift())
    cases: list[tuple[dict[str, Any], int, str | None]] = [
             ({"password": "wrong"}, 401, None),
             ({"report_hash": "0" * 64}, 409, "report_hash"),
             ({"findings": [{"finding_id": "late_entry-999999", "note": "x"}]}, 422,
              "findings.0.finding_id"),
             ({"recorded_to": "2020-01-01T00:00:00Z"}, 422, "recorded_to"),
             ({"work_days": "mon,funday"}, 422, "work_days"),
             ({"meaning": ""}, 422, "meaning"),
             ({"surprise": 1}, 422, "surprise")]
    for extra, status, loc in cases:
        before = api.ledger_state()
        answer = api.client.post(REVIEWS, json=_review_body(body, **extra),
                                 headers=api.headers("auditor"))
        assert answer.status_code == status, (extra, answer.text)
        if loc is not None:
            assert loc in [e["loc"] for e in answer.json()["errors"]], answer.text
        if status != 401:  # a wrong password is recorded (it counts toward the lockout)
            assert api.ledger_state() == before, extra
    assert api.get(REVIEWS, user="auditor").json()["reviews"] == []


HOSTILE = [("recorded_from", "yesterday"), ("recorded_to", "2026-13-01T00:00:00Z"),
           ("recorded_from", "2026-03-01T00:00:00 01:00"), ("site_id", "s01; DROP"),
           ("site_id", "S" * 17), ("work_start", "25:00"), ("work_start", "7am"),
           ("work_end", "06:00"), ("work_days", "mon,,tue"), ("work_days", "weekdays"),
           ("utc_offset", " 08:00"), ("utc_offset", "+15:00"), ("utc_offset", "UTC"),
           ("from", "2026-01-01"), ("recorded_to", "\u202e2026-01-01T00:00:00Z")]


def test_hostile_query_parameters_are_refused_by_name_and_no_read_writes(
        api: Api, owner_engine: sa.Engine) -> None:
    the_story(api)
    before = snapshot(owner_engine)
    for name, value in HOSTILE:
        answer = api.get(REPORT, user="auditor", **{name: value})
        assert answer.status_code == 422, (name, value, answer.text)
        assert any(e["loc"] == f"query.{name}" for e in answer.json()["errors"]), answer.text
    reversed_range = api.get(REPORT, user="auditor", recorded_from="2026-02-01T00:00:00Z",
                             recorded_to="2026-01-01T00:00:00Z")
    assert reversed_range.status_code == 422
    assert api.get(REVIEWS, user="auditor", as_of="soon").status_code == 422
    for user in ("auditor", "dm", "monitor1", "coord1", "admin"):
        api.get(REPORT, user=user, **night_shift())
        api.get(REVIEWS, user=user)
    assert snapshot(owner_engine) == before


def test_the_audit_trail_filters_on_the_role_recorded(api: Api) -> None:
    the_story(api)
    corrected = trail(api, role="data_manager")
    assert corrected and {e["recorded_by"] for e in corrected} == {"dm"}
    assert {e["role"] for e in trail(api, role="system")} == {"system"}
    bad = api.get("/api/v1/audit-trail", user="auditor", role="root")
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == "query.role"


def test_with_recording_off_a_refused_post_appends_nothing_and_is_only_logged(api: Api) -> None:
    app = api.client.app
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"record_access_refusals": False})
    posted(api, S02, story.enrollment(site_id="S02", on=_days_ago(10)), "coord2")
    before = api.ledger_state()
    for pid in (S02, "HCC-09-999"):
        refused = api.client.post("/api/v1/exports/odm", params={"participant_id": pid},
                                  headers=api.headers("monitor1"))
        assert refused.status_code == 404, refused.text
    assert api.ledger_state() == before
    assert api.log.getvalue().count('"why": "recording is off"') == 2
    assert not of_kind(report(api), "access_outside_sites")


def test_a_window_with_too_many_entries_is_refused_naming_its_start(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.audit_review

    posted(api, S01, story.enrollment(on=_days_ago(3)), "coord1")
    monkeypatch.setattr(services.audit_review, "MAX_ENTRIES", 3)
    monkeypatch.setattr(services.audit_review, "PAGE", 2)
    answer = api.get(REPORT, user="auditor")
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == "query.recorded_from"
