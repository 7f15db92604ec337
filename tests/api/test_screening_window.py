"""Screening comes before enrolment, told from a site coordinator's side.

RECIST 1.1 baseline imaging is done in the screening window before treatment, so a baseline
scan may be dated up to SCREENING_WINDOW_DAYS before enrolment; outside that window, or for
anything else dated before enrolment, the refusal says why.
"""

from __future__ import annotations

from datetime import date, timedelta

from domain.protocol import SCREENING_WINDOW_DAYS
from tests import story
from tests.api.conftest import Api

PID = "HCC-01-001"
ENROLLED_ON = date(2026, 1, 10)


def _days_before(days: int) -> str:
    return (ENROLLED_ON - timedelta(days=days)).isoformat()


def _baseline(on: str) -> dict[str, object]:
    return story.scan(on, baseline=True, recist_mm=[42, 18], mrecist_mm=[35, 12])


def _enrol(api: Api) -> None:
    response = api.post(PID, story.enrollment(on=ENROLLED_ON.isoformat()))
    assert response.status_code == 201, response.text


def test_a_baseline_scan_six_days_before_enrolment_is_accepted(api: Api) -> None:
    _enrol(api)
    response = api.post(PID, _baseline(_days_before(6)))
    assert response.status_code == 201, response.text
    casebook = api.get(f"/api/v1/participants/{PID}").json()
    assert any(a["occurred_on"] == _days_before(6) for a in casebook["tumor_assessments"])


def test_a_baseline_scan_on_the_first_day_of_the_window_is_accepted(api: Api) -> None:
    _enrol(api)
    response = api.post(PID, _baseline(_days_before(SCREENING_WINDOW_DAYS)))
    assert response.status_code == 201, response.text


def test_a_baseline_scan_before_the_screening_window_is_refused_with_the_window(
        api: Api) -> None:
    _enrol(api)
    before = api.ledger_state()
    response = api.post(PID, _baseline(_days_before(SCREENING_WINDOW_DAYS + 1)))
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert f"{SCREENING_WINDOW_DAYS} days" in detail
    assert _days_before(SCREENING_WINDOW_DAYS) in detail  # the earliest date allowed
    assert api.ledger_state() == before


def test_only_a_baseline_scan_may_precede_enrolment(api: Api) -> None:
    _enrol(api)
    before = api.ledger_state()
    follow_up = story.scan(_days_before(3), baseline=False, recist_mm=[40, 18],
                           mrecist_mm=[30, 12])
    for body in (follow_up, story.camrelizumab(_days_before(3)), story.tace(_days_before(3))):
        response = api.post(PID, body)
        assert response.status_code in (409, 422), response.text
        assert "before enrollment" in response.json()["detail"]
    assert api.ledger_state() == before


def test_a_correction_cannot_move_a_baseline_out_of_the_window(api: Api) -> None:
    _enrol(api)
    scan = api.post(PID, _baseline(_days_before(6)))
    assert scan.status_code == 201, scan.text
    moved = story.correction(scan.json()["event_id"], _days_before(6),
                             _baseline(_days_before(40))["data"],  # type: ignore[arg-type]
                             new_date=_days_before(40))
    response = api.post(PID, moved)
    assert response.status_code == 409, response.text
