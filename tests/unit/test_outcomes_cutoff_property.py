"""Property: a scan dated after the clinical cutoff never changes the endpoints at that cutoff.

The one thing it may change is what docs/rules.md says it shows: that the participant was
alive at the cutoff, so OS of someone not yet known alive then becomes censored at the cutoff.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.analysis.time_to_event import ALIVE_AT_CUTOFF, TimeToEvent
from domain.casebook import last_known_alive_on
from domain.participant import Participant
from domain.participant_outcome import participant_outcome
from domain.protocol import CRITERIA
from domain.study_reports import study_endpoints
from tests import story
from tests.unit.test_outcomes import START, TODAY, entry, record

LAST_DAY = (TODAY - START).days
AS_OF = datetime(2026, 11, 25, tzinfo=UTC)

new_lesions = st.none() | st.fixed_dictionaries({
    "diameter_mm": st.sampled_from([5.0, 8.0, 12.0, 20.0]),
    "unequivocal": st.booleans(),
    "typical_hcc": st.booleans(),
})


def on(days: int) -> str:
    return (START + timedelta(days=days)).isoformat()


def tumor(days: int, mm: Sequence[float | None], new: dict[str, Any] | None,
          baseline: bool = False) -> dict[str, Any]:
    """The same liver targets under both criteria; a new lesion is always N1, so that a
    later, larger N1 back-dates PD (the case a late scan could wrongly reach back into)."""
    body = story.scan(on(days), baseline=baseline, recist_mm=list(mm),  # type: ignore[arg-type]
                      mrecist_mm=list(mm))  # type: ignore[arg-type]
    for read in body["data"]["reads"].values():
        read["new_lesions"] = [] if new is None else [{"lesion_id": "N1", "organ": "liver",
                                                       **new}]
    return body


@st.composite
def stories(draw: st.DrawFn) -> tuple[Participant, date, dict[str, Any]]:
    """A treated participant with follow-ups on either side of a cutoff, and a late scan."""
    targets = draw(st.integers(1, 2))
    sizes = st.lists(st.integers(10, 80).map(float), min_size=targets, max_size=targets)
    measured = st.lists(st.none() | st.integers(0, 150).map(float),
                        min_size=targets, max_size=targets)
    cutoff_day = draw(st.integers(-3, 300))
    late_day = draw(st.integers(cutoff_day + 1, LAST_DAY))
    p = Participant.enroll("HCC-01-001", entry(story.enrollment()), today=TODAY)
    record(p, tumor(-2, draw(sizes), None, baseline=True))
    record(p, story.tace(START.isoformat()))
    days = [late_day]
    for day in sorted(draw(st.sets(st.integers(1, 300), max_size=5))):
        record(p, tumor(day, draw(measured), draw(new_lesions)))
        days.append(day)
    if draw(st.booleans()):
        days.append(draw(st.integers(1, 300)))
        record(p, {"type": "AnticancerTherapyStarted", "occurred_on": on(days[-1]),
                   "data": {"therapy": "sorafenib", "category": "systemic"}})
    if draw(st.booleans()):
        days.append(draw(st.integers(1, LAST_DAY)))
        record(p, story.follow_up(on(days[-1])))
    if max(days) < LAST_DAY and draw(st.booleans()):
        record(p, story.death(on(draw(st.integers(max(days) + 1, LAST_DAY)))))
    if draw(st.booleans()):
        late = tumor(late_day, draw(sizes), None, baseline=True)
    else:
        late = tumor(late_day, draw(measured), draw(new_lesions))
    return p, START + timedelta(days=cutoff_day), late


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories())
def test_a_scan_after_the_cutoff_changes_no_endpoint_at_the_cutoff(
    case: tuple[Participant, date, dict[str, Any]],
) -> None:
    before, cutoff, late = case
    after = copy.deepcopy(before)
    record(after, late)
    then, now = participant_outcome(before, cutoff), participant_outcome(after, cutoff)
    for criterion in CRITERIA:
        old, new = then.by_criterion[criterion], now.by_criterion[criterion]
        assert (old.baseline, old.timepoints, old.best, old.evaluable, old.pfs, old.dor) == (
            new.baseline, new.timepoints, new.best, new.evaluable, new.pfs, new.dor)
    alive_on = last_known_alive_on(before)
    known_at_cutoff = before.died_on is not None or (alive_on is not None and alive_on >= cutoff)
    if known_at_cutoff or then.os is None:
        assert now.os == then.os
        for criterion in CRITERIA:
            assert study_endpoints([after], criterion, cutoff, AS_OF) == study_endpoints(
                [before], criterion, cutoff, AS_OF)
    else:
        assert now.os == TimeToEvent((cutoff - START).days + 1, False, ALIVE_AT_CUTOFF)
