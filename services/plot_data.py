"""What the waterfall and swimmer plots draw, study-wide, at a criterion, a clinical cutoff and
a recorded time, from the same participants `GET /api/v1/endpoints` counts.

The participants are `services.study_outcomes.study_outcomes` output (what
`services.api.routes.analysis.visible_outcomes` returns for the caller's sites and `as_of`):
each one's stored outcome facts (domain/outcome_facts.py) hold every follow-up read's target
sum and response as known at any cutoff, the baseline sum and the dates treatment ended, so a
plot is a small fold of the stored facts (decoded once per stored row and kept, as the
endpoints' are), never a fold of the log. The
best overall response on a bar is `ParticipantSummary.best_overall_response`, the one the
endpoints report counts, and a lane's end is the end of that participant's OS time.

Which reads count is the rule best overall response uses (docs/rules.md section 10,
`domain.response.best.reads_counted`): dated after treatment start and on or before the
cutoff, before any off-protocol therapy, up to and including the first PD, each with its
response as known at the cutoff (a PD dated back only once a read by the cutoff qualifies it).

A participant's bar and lane at a cutoff are kept once made (`_Made`), by the participant
object `study_outcomes` handed out: it stands for one stored row, which never changes, and
`study_outcomes` hands out the same object for the same row on every read, so a page drawn
again costs a look-up per participant. Past the participant's last dated entry
(`settled_from`) nothing depends on the cutoff, so every such cutoff shares one entry.

Facts read from rows stored before the sums and end dates were kept (`OutcomeFacts.legacy`)
cannot be drawn: the waterfall counts them as `not_stored` and the swimmer leaves them out.
`with_plot_facts` folds exactly those participants from the log instead; after a rebuild of
the read models (`trial-ledger rebuild`) there are none.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from domain.analysis.time_to_event import ParticipantOutcomes as Vital
from domain.analysis.time_to_event import overall_survival
from domain.outcome_facts import OutcomeFacts, outcome_facts
from domain.protocol import CRITERIA, Criterion
from domain.response import Response
from domain.response.best import reads_counted
from domain.response.measures import exact_mm
from services.application import TrialLedger
from services.study_outcomes import ParticipantOutcomes

NOT_TREATED = "not_treated"
NO_BASELINE = "no_baseline"
NO_MEASURED_FOLLOW_UP = "no_measured_follow_up"
NOT_STORED = "not_stored"
REASONS = {
    NOT_TREATED: "not treated by the cutoff",
    NO_BASELINE: "no baseline target sum under the criterion (no baseline scan before "
                 "treatment, or no target lesion in it)",
    NO_MEASURED_FOLLOW_UP: "no follow-up read that counts with every target measured",
    NOT_STORED: "target sums not in the stored outcome facts (rows recorded before they were "
                "kept; rebuild the read models)",
}
"""Why an enrolled participant has no bar, by the key `waterfall` counts them under; bars and
these counts together are the participants enrolled by the cutoff."""

MARK_KINDS = ("CR", "PR", "SD", "PD", "death", "off-treatment")


@dataclass(frozen=True)
class WaterfallBar:
    participant_id: str
    best_change_pct: float
    """Smallest target sum among the reads that count, as a change from the baseline sum (%)."""
    bor: str
    """Confirmed best overall response, as the endpoints report counts it."""


@dataclass(frozen=True)
class SwimmerMark:
    day: int
    """Elapsed days from treatment start (day 0)."""
    kind: str
    """One of MARK_KINDS: a response as first read (CR, PR, SD; PD: the first progression),
    the death, or the end of treatment (never before day 0)."""


@dataclass(frozen=True)
class SwimmerLane:
    participant_id: str
    end_day: int
    """The end of the participant's OS time (death, else last known alive capped at the
    cutoff), in elapsed days from treatment start."""
    ongoing: bool
    """Alive and on treatment at the cutoff (no death, withdrawal, off-protocol therapy or
    discontinuation of every study drug dated on or before it)."""
    marks: tuple[SwimmerMark, ...]
    """By day."""


@dataclass(frozen=True, slots=True)
class _Read:
    """A follow-up read as known at the cutoff: what `reads_counted` orders and cuts."""

    on: date
    overall: Response
    sum_mm: float | None


def waterfall(participants: Sequence[ParticipantOutcomes], criterion: Criterion, cutoff: date
              ) -> tuple[list[WaterfallBar], dict[str, int]]:
    """One bar per participant enrolled by the cutoff with a baseline sum and a measured read
    that counts, largest increase first (ties by id); and how many enrolled participants have
    no bar, by reason (REASONS keys; a reason with none is absent)."""
    _known(criterion)
    bars: list[WaterfallBar] = []
    left_out: Counter[str] = Counter()
    for participant in participants:
        if participant.enrolled_on > cutoff:
            continue
        found = _BARS.get(participant, criterion, cutoff, _bar)
        if isinstance(found, str):
            left_out[found] += 1
        else:
            bars.append(found)
    bars.sort(key=lambda bar: (-bar.best_change_pct, bar.participant_id))
    return bars, dict(left_out)


def _bar(participant: ParticipantOutcomes, criterion: Criterion, cutoff: date
         ) -> WaterfallBar | str:
    change = best_change(participant.facts, criterion, cutoff)
    if isinstance(change, str):
        return change
    bor = participant.summary(criterion, cutoff).best_overall_response
    return WaterfallBar(participant.participant_id, change, bor)


def best_change(facts: OutcomeFacts, criterion: Criterion, cutoff: date) -> float | str:
    """The best (lowest) percentage change of the target sum from baseline among the reads that
    count at the cutoff, or the REASONS key of why there is none. Exact to the diameters as
    written: the sums are compared as decimals, and only the quotient is rounded to a float."""
    if facts.legacy:
        return NOT_STORED
    start = facts.started_by(cutoff)
    if start is None:
        return NOT_TREATED
    found = facts.criteria[criterion]
    if found.baseline_mm is None or found.baseline_mm <= 0:
        return NO_BASELINE
    counted = reads_counted(_reads(facts, criterion, cutoff), start, facts.therapy_by(cutoff))
    sums = [read.sum_mm for read in counted if read.sum_mm is not None]
    if not sums:
        return NO_MEASURED_FOLLOW_UP
    baseline = exact_mm(found.baseline_mm)
    return float((exact_mm(min(sums)) - baseline) * Decimal(100) / baseline)


def swimmer(participants: Sequence[ParticipantOutcomes], criterion: Criterion, cutoff: date
            ) -> list[SwimmerLane]:
    """One lane per participant enrolled and treated by the cutoff (legacy facts apart), the
    longest first (ties by id)."""
    _known(criterion)
    lanes = []
    for participant in participants:
        if participant.enrolled_on > cutoff:
            continue
        lane = _LANES.get(participant, criterion, cutoff,
                          lambda p, c, d: swimmer_lane(p.facts, c, d))
        if lane is not None:
            lanes.append(lane)
    lanes.sort(key=lambda lane: (-lane.end_day, lane.participant_id))
    return lanes


def swimmer_lane(facts: OutcomeFacts, criterion: Criterion, cutoff: date) -> SwimmerLane | None:
    """The participant's lane at the cutoff; None when not treated by it, or legacy.

    Response marks: the first read of each run of the same time-point response among the
    reads that count, NE reads skipped (SD -> PR -> PR -> CR -> PD marks SD, PR, CR, PD),
    as read: an SD before day 42 is marked SD though best overall response counts it NE."""
    start = facts.started_by(cutoff)
    if start is None or facts.legacy:
        return None
    therapy = facts.therapy_by(cutoff)
    marks: list[SwimmerMark] = []
    previous: Response | None = None
    for read in reads_counted(_reads(facts, criterion, cutoff), start, therapy):
        if read.overall is Response.NE or read.overall is previous:
            continue
        marks.append(SwimmerMark((read.on - start).days, read.overall.value))
        previous = read.overall
    died = facts.died_on if facts.died_on is not None and facts.died_on <= cutoff else None
    if died is not None:
        marks.append(SwimmerMark(max(0, (died - start).days), "death"))
    ended = facts.off_treatment_by(cutoff)
    if ended is not None:
        # Off-protocol therapy (or a withdrawal) dated before the first dose ends treatment
        # as it starts: day 0, where the lane begins.
        marks.append(SwimmerMark(max(0, (ended - start).days), "off-treatment"))
    os = overall_survival(Vital(start, (), facts.died_on, facts.last_known_alive_on, therapy),
                          cutoff)
    assert os is not None  # treated by the cutoff
    return SwimmerLane(
        participant_id=facts.participant_id,
        end_day=os.days - 1,  # time-to-event days count the start day as day 1
        ongoing=died is None and ended is None,
        marks=tuple(sorted(marks, key=lambda m: (m.day, MARK_KINDS.index(m.kind)))),
    )


def with_plot_facts(ledger: TrialLedger, participants: Sequence[ParticipantOutcomes],
                    as_of: str | None) -> list[ParticipantOutcomes]:
    """`participants` (as `study_outcomes` gave them for `as_of`), those whose stored facts are
    legacy folded from the log as of the same recorded time, so that every one can be drawn.
    Costs a fold per legacy participant: none once the read models are rebuilt."""
    return [ParticipantOutcomes.of(outcome_facts(ledger.participant(p.participant_id,
                                                                    as_of=as_of)))
            if p.facts.legacy else p for p in participants]


def _reads(facts: OutcomeFacts, criterion: Criterion, cutoff: date) -> list[_Read]:
    """The follow-ups dated on or before the cutoff (they are in date order), each with its
    response as known at the cutoff."""
    found = []
    for read in facts.criteria[criterion].followups:
        if read.on > cutoff:
            break
        known = read.known
        overall = known[0][1] if len(known) == 1 else read.at(cutoff).overall
        found.append(_Read(read.on, overall, read.sum_mm))
    return found


T = TypeVar("T")


class _Made(Generic[T]):
    """Bars (or why none) or lanes made, by (participant object, criterion, cutoff), the
    participant object kept beside each so that a key never names another one (ids are
    reused once an object is gone). Oldest out first past `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._made: OrderedDict[tuple[int, str, date],
                                tuple[ParticipantOutcomes, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, participant: ParticipantOutcomes, criterion: Criterion, cutoff: date,
            make: Callable[[ParticipantOutcomes, Criterion, date], T]) -> T:
        # Past the last dated entry every cutoff gives what `settled_from` gives.
        day = min(cutoff, participant.settled_from)
        key = (id(participant), criterion, day)
        found = self._made.get(key)
        if found is not None and found[0] is participant:
            return found[1]
        made = make(participant, criterion, day)
        with self._lock:
            self._made[key] = (participant, made)
            while len(self._made) > self.size:
                self._made.popitem(last=False)
        return made


MADE_SIZE = 20_000
"""Bars (lanes) kept: both criteria at several cutoffs for 1,000 participants and more (each a
few hundred bytes)."""
_BARS: _Made[WaterfallBar | str] = _Made(MADE_SIZE)
_LANES: _Made[SwimmerLane | None] = _Made(MADE_SIZE)


def _known(criterion: Criterion) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; use one of {', '.join(CRITERIA)}")
