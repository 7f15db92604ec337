"""What the endpoints and safety tables need of one participant, for any clinical cutoff.

A participant's endpoints depend on the cutoff D in a few ways only: whether treatment had
started by D, which follow-up reads are dated on or before D (and what each read's response
was as known at D: a new lesion back-dates PD only once a later read qualifies it), whether a
death or off-protocol therapy is dated on or before D, and, for OS, whether the participant was
last known alive on or after D. `outcome_facts` derives those facts once, from all of the
participant's effective entries (the projector calls it when an event is projected);
`summary_at` is the small fold that gives exactly what `participant_outcome(p, D).summary(c)`
gives, for any D, without the reads, the measurements or the response rules.

The facts also keep what the waterfall and swimmer plots draw at D (services/plot_data.py):
each read's target sum and the baseline sum, and the dates treatment ended (withdrawal, each
study drug's discontinuation). Facts read back from a document stored before these were kept
are `legacy`: the plots cannot be drawn from them, the endpoints can.

Past every dated entry (`settled_from`) nothing depends on D any more: the summary there is
derived once and stored beside the facts, so a read at such a cutoff only decodes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from domain.adverse_events import records_of
from domain.analysis.endpoints import ParticipantSummary
from domain.analysis.safety import AdverseEventRecord
from domain.analysis.time_to_event import (
    AdequateRead,
    ParticipantOutcomes,
    duration_of_response,
    overall_survival,
    progression_free_survival,
)
from domain.casebook import TREATMENT_TYPES, discontinued_drugs, status_from
from domain.entries import Entry
from domain.events import (
    ADMINISTRATIVE_TYPES,
    DoseModifiedData,
    Payload,
    TumorAssessedData,
    stored_payload,
)
from domain.participant import RECORD_KEEPING_TYPES, Participant
from domain.participant_outcome import Scan, baseline_scan, scans
from domain.protocol import CRITERIA, STUDY_DRUGS, Criterion
from domain.response import Response, best_overall_response, evaluate, has_measurable_disease
from domain.response.timepoint import Evaluation, assess_next, evaluation

AE_TYPES = ("AdverseEventReported", "AdverseEventUpdated", "DoseModified")


@dataclass(frozen=True, slots=True)
class Point:
    """One follow-up read's overall response as known from a cutoff on."""

    on: date
    overall: Response


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One follow-up read under one criterion: (known from, overall response) pairs, the first
    known from the read's own date; a later pair replaces it from its date on (a back-dated PD)."""

    on: date
    known: tuple[tuple[date, Response], ...]
    sum_mm: float | None = None
    """The target sum at this read (docs/rules.md section 5): None when a baseline target was
    not assessed or the baseline has none. It does not depend on the cutoff: the baseline is
    fixed once treatment has started, and the sum is the read's own."""

    def at(self, cutoff: date) -> Point:
        overall = self.known[0][1]
        for known_from, response in self.known[1:]:
            if known_from > cutoff:
                break
            overall = response
        return Point(self.on, overall)


@dataclass(frozen=True, slots=True)
class CriterionFacts:
    """The reads that count under one criterion once treatment has started: the follow-ups
    after the baseline read (the latest on or before treatment start), in date order."""

    evaluable: bool
    """A baseline read with measurable disease (evaluable once treated)."""
    followups: tuple[FollowUp, ...]
    baseline: Scan | None = field(default=None, compare=False, repr=False)
    evaluation: Evaluation | None = field(default=None, compare=False, repr=False)
    """How the facts were derived, for assessing one more read (`next_facts`); not stored."""
    baseline_mm: float | None = None
    """The baseline target sum; None without a baseline or without a measured target in it
    (after `evaluation` so that the positional construction above keeps its meaning)."""


@dataclass(frozen=True, slots=True)
class AdverseEventFact:
    """An AE-related entry as the safety fold reads it."""

    type: str
    on: date
    version: int
    data: dict[str, Any]
    payload: Payload = field(init=False, compare=False, repr=False)
    """`data` as its type's payload model, built once: the safety fold reads every fact of
    every participant on each read."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", stored_payload(self.type, self.data))

    @property
    def occurred_on(self) -> date:
        return self.on


@dataclass(frozen=True, slots=True)
class OutcomeFacts:
    participant_id: str
    site_id: str
    enrolled_on: date
    treatment_start_on: date | None
    died_on: date | None
    last_known_alive_on: date | None
    therapy_dates: tuple[date, ...]
    """Off-protocol anticancer therapy start dates, sorted."""
    criteria: dict[Criterion, CriterionFacts]
    adverse_events: tuple[AdverseEventFact, ...]
    settled_from: date
    """The day after the latest dated entry: at this cutoff and any later one, every summary is
    the same."""
    withdrawn: bool = False
    discontinued: frozenset[str] = frozenset()
    """The study drugs discontinued (with `withdrawn`, what the participant's status needs)."""
    withdrew_on: date | None = None
    """The earliest withdrawal date (`withdrawn` says only whether there is one)."""
    discontinued_on: tuple[tuple[str, date], ...] = ()
    """Per drug discontinued, its earliest discontinuation date, by drug name."""
    legacy: bool = False
    """Read from documents stored before the target sums and the dates treatment ended were
    kept: those are missing here (None, empty), though every other fact is exact."""

    @property
    def status(self) -> str:
        """`domain.casebook.status` of the participant these facts are of."""
        return status_from(died=self.died_on is not None, withdrawn=self.withdrawn,
                           discontinued=self.discontinued, other_therapy=bool(self.therapy_dates))

    def therapy_by(self, cutoff: date) -> date | None:
        first = self.therapy_dates[0] if self.therapy_dates else None
        return first if first is not None and first <= cutoff else None

    def started_by(self, cutoff: date) -> date | None:
        start = self.treatment_start_on
        return start if start is not None and start <= cutoff else None

    def off_treatment_by(self, cutoff: date) -> date | None:
        """The day treatment ended, if on or before the cutoff: the first of the withdrawal,
        the off-protocol therapy and the day the last study drug still given was
        discontinued, the events `status` counts as off treatment (death apart)."""
        stopped = dict(self.discontinued_on)
        ends = [d for d in (self.withdrew_on, self.therapy_dates[0] if self.therapy_dates
                            else None) if d is not None]
        if all(drug in stopped for drug in STUDY_DRUGS):
            ends.append(max(stopped[drug] for drug in STUDY_DRUGS))
        first = min(ends, default=None)
        return first if first is not None and first <= cutoff else None


def outcome_facts(participant: Participant) -> OutcomeFacts:
    """Everything `summary_at` and `adverse_events_at` need, from all of the participant's
    effective entries (`next_facts` gives the same from the facts before one more event)."""
    effective = participant.effective_entries()
    starts, therapy, events = [], [], []
    alive: date | None = None
    died: date | None = None
    withdrew: date | None = None
    for entry in effective:
        kind, on = entry.type, entry.occurred_on
        if kind == "ParticipantDied":
            died = on if died is None else died
        elif alive is None or on > alive:
            alive = on
        if kind == "ParticipantWithdrew":
            withdrew = _earlier(withdrew, on)
        if kind in TREATMENT_TYPES:
            starts.append(on)
        elif kind == "AnticancerTherapyStarted":
            therapy.append(on)
        elif kind in AE_TYPES:
            events.append(AdverseEventFact(kind, on, entry.version, dict(entry.data)))
    start = min(starts, default=None)
    criteria = {c: _criterion_facts(participant, c, start) for c in CRITERIA}
    return OutcomeFacts(
        participant_id=participant.id,
        site_id=participant.site_id,
        enrolled_on=participant.enrollment.occurred_on,
        treatment_start_on=start,
        died_on=died,
        last_known_alive_on=alive,
        therapy_dates=tuple(sorted(therapy)),
        criteria=criteria,
        adverse_events=tuple(events),
        settled_from=max(e.occurred_on for e in effective) + timedelta(days=1),
        withdrawn=any(e.type == "ParticipantWithdrew" for e in effective),
        discontinued=discontinued_drugs(effective),
        withdrew_on=withdrew,
        discontinued_on=_discontinued_on((), effective),
    )


def _earlier(known: date | None, on: date) -> date:
    return on if known is None or on < known else known


def _discontinued_on(known: tuple[tuple[str, date], ...], entries: Iterable[Entry]
                     ) -> tuple[tuple[str, date], ...]:
    """`known` (drug, earliest discontinuation) pairs with the discontinuations among
    `entries`, by drug name."""
    found = dict(known)
    for entry in entries:
        if entry.type != "DoseModified":
            continue
        payload = entry.payload
        if isinstance(payload, DoseModifiedData) and payload.action == "discontinued":
            found[payload.drug] = _earlier(found.get(payload.drug), entry.occurred_on)
    return tuple(sorted(found.items()))


def next_facts(previous: OutcomeFacts, participant: Participant, event_type: str,
               event_id: str) -> OutcomeFacts:
    """The facts after one more event of the participant, from `previous` (the facts just
    before it) where that is exact: a new entry adds its date, start, death, therapy or AE to
    them; an event that is not a clinical entry (a signature, a lock, a transfer) changes at
    most the site. A correction or a void may change any entry, so it derives everything."""
    entry = participant.entries.get(event_id)
    if event_type in REDERIVE_TYPES or entry is None:
        return outcome_facts(participant)
    if (entry.voided_by is not None or entry.type in ADMINISTRATIVE_TYPES
            or entry.type in RECORD_KEEPING_TYPES):
        if participant.site_id == previous.site_id:
            return previous
        return replace(previous, site_id=participant.site_id)
    kind, on = entry.type, entry.occurred_on
    died, alive = previous.died_on, previous.last_known_alive_on
    start, therapy = previous.treatment_start_on, previous.therapy_dates
    events = previous.adverse_events
    if kind == "ParticipantDied":
        died = on if died is None else died
    elif alive is None or on > alive:
        alive = on
    if kind in TREATMENT_TYPES:
        start = on if start is None or on < start else start
    elif kind == "AnticancerTherapyStarted":
        therapy = tuple(sorted((*therapy, on)))
    elif kind in AE_TYPES:
        events = (*events, AdverseEventFact(kind, on, entry.version, dict(entry.data)))
    withdrawn = previous.withdrawn or kind == "ParticipantWithdrew"
    withdrew = previous.withdrew_on
    if kind == "ParticipantWithdrew":
        withdrew = _earlier(withdrew, on)
    discontinued = previous.discontinued | discontinued_drugs((entry,))
    discontinued_on = _discontinued_on(previous.discontinued_on, (entry,))
    criteria = previous.criteria
    if start != previous.treatment_start_on or (kind == "TumorAssessed"
                                                and entry.payload_as(TumorAssessedData).baseline):
        criteria = {c: _criterion_facts(participant, c, start) for c in CRITERIA}
    elif kind == "TumorAssessed":
        reads = entry.payload_as(TumorAssessedData).reads
        criteria = {c: _with_read(participant, c, start, found, entry) if c in reads else found
                    for c, found in previous.criteria.items()}
    return replace(previous, site_id=participant.site_id, treatment_start_on=start,
                   died_on=died, last_known_alive_on=alive, therapy_dates=therapy,
                   criteria=criteria, adverse_events=events, withdrawn=withdrawn,
                   discontinued=discontinued, withdrew_on=withdrew,
                   discontinued_on=discontinued_on,
                   settled_from=max(previous.settled_from, on + timedelta(days=1)))


REDERIVE_TYPES = frozenset({"ParticipantEnrolled", "EntryCorrected", "EntryVoided"})
"""Events after which the facts are derived from every entry again."""


def settled_summaries(facts: OutcomeFacts, previous: OutcomeFacts | None = None,
                      before: dict[Criterion, ParticipantSummary] | None = None
                      ) -> dict[Criterion, ParticipantSummary]:
    """Each criterion's summary at `facts.settled_from` (and every later cutoff). `before`: the
    summaries of `previous`; when only the last known alive date and `settled_from` moved,
    only OS can differ, and only OS is derived again."""
    if (previous is not None and before is not None and facts.criteria is previous.criteria
            and facts.treatment_start_on == previous.treatment_start_on
            and facts.died_on == previous.died_on
            and facts.therapy_dates == previous.therapy_dates):
        day = facts.settled_from
        os = overall_survival(ParticipantOutcomes(facts.started_by(day), (), facts.died_on,
                                                  facts.last_known_alive_on,
                                                  facts.therapy_by(day)), day)
        return {c: summary if summary.os == os else replace(summary, os=os)
                for c, summary in before.items()}
    return {c: summary_at(facts, c, facts.settled_from) for c in CRITERIA}


def _with_read(participant: Participant, criterion: Criterion, start: date | None,
               before: CriterionFacts, entry: Entry) -> CriterionFacts:
    """The criterion's facts after one more follow-up read (`entry`, not a baseline), from
    those before it: unchanged when it cannot count (not treated, no baseline, dated on or
    before the baseline), one more response when it is dated after every follow-up and
    back-dates nothing, else derived again."""
    baseline = before.baseline
    if start is None or baseline is None and before.evaluation is None:
        return before
    if baseline is None or before.evaluation is None:
        return _criterion_facts(participant, criterion, start)
    if entry.occurred_on <= baseline.on:
        return before
    after = assess_next(criterion, baseline.read, before.evaluation, entry.occurred_on,
                        entry.payload_as(TumorAssessedData).reads[criterion])
    if after is None:
        return _criterion_facts(participant, criterion, start)
    point = after.points[-1]
    return CriterionFacts(before.evaluable,
                          (*before.followups, FollowUp(point.on, ((point.on, point.overall),),
                                                       point.sum_mm)),
                          baseline, after, before.baseline_mm)


def _criterion_facts(participant: Participant, criterion: Criterion, start: date | None
                     ) -> CriterionFacts:
    if start is None:
        return CriterionFacts(False, ())
    read = scans(participant, criterion)
    baseline = baseline_scan(participant, criterion, start, read=read)
    if baseline is None:
        return CriterionFacts(False, (), None, None)
    followups = [s for s in read if not s.baseline and baseline.on < s.on]
    evaluated = evaluation(criterion, baseline.read, [(s.on, s.read) for s in followups])
    points = evaluated.points
    known = [[(point.on, point.overall)] for point in points]
    if any(point.backdated for point in points):
        # A read's response can change once a later read qualifies a new lesion: evaluate as
        # of each follow-up date and keep each change, from that date on.
        dates = sorted({point.on for point in points})
        for day in dates:
            upto = [(s.on, s.read) for s in followups if s.on <= day]
            for index, point in enumerate(evaluate(criterion, baseline.read, upto)):
                if point.overall is not known[index][-1][1]:
                    known[index].append((day, point.overall))
        # Whatever the last date knows is what evaluating everything gives.
    return CriterionFacts(
        evaluable=has_measurable_disease(baseline.read),
        followups=tuple(FollowUp(p.on, tuple(k), p.sum_mm)
                        for p, k in zip(points, known, strict=True)),
        baseline=baseline,
        evaluation=evaluated,
        baseline_mm=None if evaluated.baseline_mm is None else float(evaluated.baseline_mm),
    )


def summary_at(facts: OutcomeFacts, criterion: Criterion, cutoff: date) -> ParticipantSummary:
    """`participant_outcome(participant, cutoff).summary(criterion)`, from the facts."""
    start = facts.started_by(cutoff)
    therapy = facts.therapy_by(cutoff)
    vital = ParticipantOutcomes(start, (), facts.died_on, facts.last_known_alive_on, therapy)
    os = overall_survival(vital, cutoff)
    if start is None:
        return ParticipantSummary(treated=False, evaluable=False, best_overall_response="NE",
                                  os=os, pfs=None, dor=None)
    found = facts.criteria[criterion]
    timepoints = [f.at(cutoff) for f in found.followups if f.on <= cutoff]
    best = best_overall_response(timepoints, start, therapy)
    outcomes = ParticipantOutcomes(
        treatment_start_on=start,
        adequate_reads=[AdequateRead(tp.on, tp.overall is Response.PD)
                        for tp in timepoints if tp.overall is not Response.NE],
        death_on=facts.died_on,
        last_known_alive_on=facts.last_known_alive_on,
        offprotocol_therapy_on=therapy,
        response_start_on=best.response_start_on if found.evaluable else None,
    )
    return ParticipantSummary(
        treated=True,
        evaluable=found.evaluable,
        best_overall_response=best.confirmed.value,
        os=os,
        pfs=progression_free_survival(outcomes, cutoff),
        dor=duration_of_response(outcomes, cutoff),
    )


def adverse_events_at(facts: OutcomeFacts, cutoff: date) -> list[AdverseEventRecord]:
    """`adverse_event_records(participant, cutoff)`, from the facts."""
    return records_of(facts.participant_id, facts.adverse_events, cutoff)

