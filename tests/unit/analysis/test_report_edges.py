"""What the endpoints report and the curves for plots show at their edges (docs/api.md,
docs/rules.md sections 12-17): the chosen interval transform reaching every number, rates
rounded to 4 decimals, both limits of the median, OS landmarks, the widest risk-table
spacing, the JSON shape of a curve, and the messages that refuse inconsistent input.

Statistics are compared with lifelines, scipy or published R figures, never with this
code's own output.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from domain.analysis.curves import RISK_TABLE_EVERY_MAX, survival_curve
from domain.analysis.endpoints import ParticipantSummary, endpoints_report, survival_block
from domain.analysis.time_to_event import TimeToEvent
from domain.protocol import DAYS_PER_MONTH
from tests.unit.analysis.conftest import Sample
from tests.unit.analysis.test_boundaries import greenwood_from_lifelines, lifelines_fit
from tests.unit.analysis.test_endpoints_report import AS_OF, CUTOFF, censored, event, trial
from tests.unit.analysis.test_km_curves import whole_day_sample

TOLERANCE = 1e-9
Z_95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


def log_band(sample: list[tuple[int, bool]], t: float) -> tuple[float, float, float]:
    """S(t) and R's conf.type = "log" 95% band at t, from lifelines' estimate and table."""
    reference = greenwood_from_lifelines(lifelines_fit(sample, 0.05))
    s, greenwood = reference[max(time for time in reference if time <= t)]
    spread = float(np.exp(Z_95 * np.sqrt(greenwood)))
    return s, s / spread, min(s * spread, 1.0)


def test_os_six_and_twelve_month_rates_use_the_chosen_transform_rounded_to_4_decimals() -> None:
    # OS of the hand-worked trial (test_endpoints_report.trial) under the R default "log"
    # band: each rate and both its limits are lifelines' figures rounded to 4 decimals.
    summaries = trial()
    os_sample = [(s.os.days, s.os.event) for s in summaries if s.os is not None]
    report = endpoints_report(
        summaries, criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF, transform="log"
    )
    for months in (6, 12):
        s, low, high = log_band(os_sample, months * DAYS_PER_MONTH)
        assert report["os"][f"rate_{months}m"] == {
            "estimate": round(s, 4), "ci95": [round(low, 4), round(high, 4)]
        }
    assert "rate_6m" not in report["dor"]


def test_the_lung_median_shows_both_published_limits_in_months(lung: Sample) -> None:
    # R: survfit(Surv(time, status) ~ 1, data = lung, conf.type = "log-log"): median 310 days,
    # 95% CI 284-361 (docs/validation.md section 1a).
    days, events = lung
    block = survival_block(
        [TimeToEvent(int(d), e, None if e else "alive at last contact")
         for d, e in zip(days, events, strict=True)],
        "log-log",
        landmarks=False,
    )
    assert block["median_months"] == round(310 / DAYS_PER_MONTH, 1)
    assert block["ci95"] == [round(284 / DAYS_PER_MONTH, 1), round(361 / DAYS_PER_MONTH, 1)]
    assert (block["n"], block["events"], block["censored"]) == (228, 165, 63)


@pytest.fixture
def server_in_shanghai() -> Iterator[None]:
    """The process's local time zone set to UTC+8, as a server abroad might run."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("server_in_shanghai")
def test_as_of_is_rendered_in_utc_whatever_the_servers_time_zone() -> None:
    local = datetime(2026, 11, 23, 23, 0, tzinfo=timezone(timedelta(hours=2)))
    report = endpoints_report([], criteria="mRECIST", cutoff=CUTOFF, as_of=local)
    assert report["as_of"] == "2026-11-23T21:00:00Z"


def test_inconsistent_input_is_refused_with_the_rule_it_breaks() -> None:
    def refused(summary: ParticipantSummary) -> str:
        with pytest.raises(ValueError) as raised:
            endpoints_report([summary], criteria="mRECIST", cutoff=CUTOFF, as_of=AS_OF)
        return str(raised.value)

    assert refused(ParticipantSummary(True, True, "SD", dor=event(10))) == (
        "DOR applies to confirmed responders only (docs/rules.md DOR)"
    )
    assert refused(ParticipantSummary(False, True, "NE")) == (
        "an evaluable participant must be treated (docs/rules.md populations)"
    )
    with pytest.raises(ValueError) as raised:
        endpoints_report([], criteria="mRECIST", cutoff=CUTOFF, as_of=datetime(2026, 1, 1))
    assert str(raised.value) == "as_of must be timezone-aware"


# --- Curves for plots (docs/api.md "Curves for plots")


def test_a_curve_is_the_documented_json_object() -> None:
    curve = survival_curve([(43, True), (85, False)], risk_table_every=60).to_dict()
    assert curve == {
        "n": 2,
        "events": 1,
        "points": [
            {"day": 0, "survival": 1.0, "lower": 1.0, "upper": 1.0, "at_risk": 2, "events": 0,
             "censored": 0},
            {"day": 43, "survival": 0.5, "lower": curve["points"][1]["lower"],
             "upper": curve["points"][1]["upper"], "at_risk": 2, "events": 1, "censored": 0},
            {"day": 85, "survival": 0.5, "lower": curve["points"][1]["lower"],
             "upper": curve["points"][1]["upper"], "at_risk": 1, "events": 0, "censored": 1},
        ],
        "censor_marks": [85],
        "risk_table": [{"day": 0, "at_risk": 2}, {"day": 60, "at_risk": 1}],
    }


def test_the_widest_risk_table_spacing_of_ten_years_is_accepted() -> None:
    curve = survival_curve([(5, True), (4000, False)], risk_table_every=RISK_TABLE_EVERY_MAX)
    assert [(row.day, row.at_risk) for row in curve.risk_table] == [(0, 2), (3650, 1)]


def test_an_empty_curve_has_only_the_day_0_row_at_any_spacing() -> None:
    assert survival_curve([], risk_table_every=1).to_dict()["risk_table"] == [
        {"day": 0, "at_risk": 0}
    ]


def test_a_curve_drawn_with_the_plain_band_has_greenwood_limits_on_s() -> None:
    sample = whole_day_sample(3, 40, 30)
    reference = greenwood_from_lifelines(lifelines_fit(sample, 0.05))
    curve = survival_curve(sample, transform="plain")
    for point in curve.points:
        if point.events == 0:
            continue
        s, greenwood = reference[float(point.day)]
        if s == 0.0:
            assert (point.lower, point.upper) == (None, None)
            continue
        half_width = Z_95 * s * np.sqrt(greenwood)
        assert (point.lower, point.upper) == pytest.approx(
            (max(s - half_width, 0.0), min(s + half_width, 1.0)), abs=TOLERANCE
        )


def test_a_censored_time_in_the_report_is_not_an_event() -> None:
    block = survival_block([event(30), censored(60), event(90)], "log-log", landmarks=False)
    assert (block["n"], block["events"], block["censored"]) == (3, 2, 1)
