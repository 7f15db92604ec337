"""The docs/api.md endpoints body, built from hand-worked participant summaries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.analysis.endpoints import ParticipantSummary, endpoints_report, survival_block
from domain.analysis.time_to_event import TimeToEvent

CUTOFF = date(2026, 6, 30)
AS_OF = datetime(2026, 11, 23, 21, 0, 0, 123456, tzinfo=UTC)


def event(days: int) -> TimeToEvent:
    return TimeToEvent(days, True, None)


def censored(days: int) -> TimeToEvent:
    return TimeToEvent(days, False, "no progression or death by cutoff")


def trial() -> list[ParticipantSummary]:
    """12 enrolled, 11 treated, 10 evaluable: 1 CR, 4 PR, 2 SD, 2 PD, 1 NE."""
    evaluable = [
        ParticipantSummary(True, True, "CR", censored(400), censored(400), censored(300)),
        ParticipantSummary(True, True, "PR", event(380), event(300), event(200)),
        ParticipantSummary(True, True, "PR", censored(420), event(250), event(150)),
        ParticipantSummary(True, True, "PR", event(330), event(200), censored(100)),
        ParticipantSummary(True, True, "PR", censored(410), censored(360), censored(260)),
        ParticipantSummary(True, True, "SD", event(300), event(150)),
        ParticipantSummary(True, True, "SD", event(280), event(120)),
        ParticipantSummary(True, True, "PD", event(200), event(60)),
        ParticipantSummary(True, True, "PD", event(150), event(45)),
        ParticipantSummary(True, True, "NE", event(30), event(30)),
    ]
    not_evaluable = ParticipantSummary(True, False, "NE", censored(90), censored(1))
    not_treated = ParticipantSummary(False, False, "NE")
    return [*evaluable, not_evaluable, not_treated]


def test_populations_and_best_overall_response() -> None:
    report = endpoints_report(trial(), criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF)
    assert report["criteria"] == "mRECIST"
    assert report["cutoff"] == "2026-06-30"
    assert report["as_of"] == "2026-11-23T21:00:00.123456Z"
    assert report["population"] == {"enrolled": 12, "treated": 11, "evaluable": 10}
    assert report["best_overall_response"] == {"CR": 1, "PR": 4, "SD": 2, "PD": 2, "NE": 1}


def test_orr_and_dcr_are_exact_over_the_evaluable() -> None:
    report = endpoints_report(trial(), criteria="RECIST 1.1", cutoff=CUTOFF, as_of=AS_OF)
    assert report["orr"] == {"responders": 5, "n": 10, "rate": 0.5, "ci95": [0.1871, 0.8129]}
    assert report["dcr"] == {"count": 7, "n": 10, "rate": 0.7, "ci95": [0.3475, 0.9333]}


def test_time_to_event_blocks_count_the_treated() -> None:
    report = endpoints_report(trial(), criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF)
    assert (report["os"]["n"], report["os"]["events"], report["os"]["censored"]) == (11, 7, 4)
    assert (report["pfs"]["n"], report["pfs"]["events"], report["pfs"]["censored"]) == (11, 8, 3)
    assert report["dor"] == {
        "n": 5,
        # 100c 150 200 260c 300c: S = 3/4 at 150, 3/4 * 2/3 = 0.5 at 200 and flat to the last
        # follow-up, so the median is (200 + 300) / 2 = 250 days; the lower band is < 0.5 at 150.
        "median_months": round(250 / 30.4375, 1),
        "ci95": [round(150 / 30.4375, 1), None],
        "events": 2,
        "censored": 3,
    }
    assert set(report["pfs"]) == {
        "n",
        "median_months",
        "ci95",
        "events",
        "censored",
        "rate_6m",
        "rate_12m",
    }


def test_pfs_median_and_landmarks_by_hand() -> None:
    pfs = endpoints_report(trial(), criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF)["pfs"]
    # Ordered: 1c 30 45 60 120 150 200 250 300 360c 400c; 11 at risk.
    # S: 30 -> 9/10 (10 at risk after the day-1 censoring), 45 -> 8/10, 60 -> 7/10, 120 -> 6/10,
    # 150 -> 5/10 = 0.5 exactly, so the median is (150 + 200) / 2 = 175 days = 5.7 months.
    assert pfs["median_months"] == round(175 / 30.4375, 1) == 5.7
    assert pfs["rate_6m"]["estimate"] == 0.5  # 182.625 days: after 150, before 200
    assert pfs["rate_12m"]["estimate"] == 0.2  # 365.25: 0.5 * 4/5 * 3/4 * 2/3 after 300
    assert pfs["rate_6m"]["ci95"][0] < 0.5 < pfs["rate_6m"]["ci95"][1]


def test_report_is_json_serialisable() -> None:
    report = endpoints_report(trial(), criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF)
    assert json.loads(json.dumps(report)) == report


def test_nobody_treated_gives_nulls_not_errors() -> None:
    report = endpoints_report(
        [ParticipantSummary(False, False, "NE")], criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF
    )
    assert report["orr"] == {"responders": 0, "n": 0, "rate": None, "ci95": None}
    assert report["pfs"] == {
        "n": 0,
        "median_months": None,
        "ci95": [None, None],
        "events": 0,
        "censored": 0,
        "rate_6m": {"estimate": None, "ci95": [None, None]},
        "rate_12m": {"estimate": None, "ci95": [None, None]},
    }


def test_landmark_beyond_follow_up_is_null_and_after_total_failure_is_zero() -> None:
    short = survival_block([censored(100), event(50)], "log-log", landmarks=True)
    assert short["rate_6m"] == {"estimate": None, "ci95": [None, None]}
    failed = survival_block([event(30), event(60)], "log-log", landmarks=True)
    assert failed["rate_6m"] == {"estimate": 0.0, "ci95": [None, None]}


def test_as_of_is_rendered_in_utc() -> None:
    local = datetime(2026, 11, 23, 23, 0, tzinfo=timezone(timedelta(hours=2)))
    report = endpoints_report([], criteria="mRECIST", cutoff=CUTOFF, as_of=local)
    assert report["as_of"] == "2026-11-23T21:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        endpoints_report([], criteria="mRECIST", cutoff=CUTOFF, as_of=datetime(2026, 1, 1))


def test_inconsistent_summaries_are_refused() -> None:
    with pytest.raises(ValueError, match="confirmed responders"):
        endpoints_report(
            [ParticipantSummary(True, True, "SD", dor=event(10))],
            criteria="mRECIST",
            cutoff=CUTOFF,
            as_of=AS_OF,
        )
    with pytest.raises(ValueError, match="must be treated"):
        endpoints_report(
            [ParticipantSummary(False, True, "NE")], criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF
        )
