"""What the endpoints and safety tables need of one participant, for any clinical cutoff.

A participant's endpoints depend on the cutoff D in a few ways only: whether treatment had
started by D, which follow-up reads are dated on or before D (and what each read's response
was as known at D: a new lesion back-dates PD only once a later read qualifies it), whether a
death or off-protocol therapy is dated on or before D, and, for OS, whether the participant was
last known alive on or after D. `outcome_facts` derives those facts once, from all of the
participant's effective entries (the projector calls it when an event is projected);
`summary_at` is the small fold that gives exactly what `participant_outcome(p, D).summary(c)`
gives, for any D, without the reads, the measurements or the response rules.

Past every dated entry (`settled_from`) nothing depends on D any more: the summary there is
derived once and stored beside the facts, so a read at such a cutoff only decodes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domain.analysis.endpoints import ParticipantSummary
from domain.analysis.safety import AdverseEventRecord
from domain.analysis.time_to_event import (
    AdequateRead,
    ParticipantOutcomes,
    TimeToEvent,
    duration_of_response,
    overall_survival,
    progression_free_survival,
)
from domain.casebook import TREATMENT_TYPES
from domain.outcomes import adverse_event_records, baseline_scan, scans
from domain.participant import Participant
from domain.protocol import CRITERIA, Criterion
from domain.response import Response, best_overall_response, evaluate, has_measurable_disease

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


@dataclass(frozen=True, slots=True)
class AdverseEventFact:
    """An AE-related entry as the safety fold reads it."""

    type: str
    on: date
    version: int
    data: dict[str, Any]


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

    def therapy_by(self, cutoff: date) -> date | None:
        first = self.therapy_dates[0] if self.therapy_dates else None
        return first if first is not None and first <= cutoff else None

    def started_by(self, cutoff: date) -> date | None:
        start = self.treatment_start_on
        return start if start is not None and start <= cutoff else None


READ_TYPES = frozenset({"TumorAssessed", "EntryCorrected", "EntryVoided"})
"""Entries after which a criterion's reads may differ (besides a new treatment start)."""


def outcome_facts(participant: Participant, previous: OutcomeFacts | None = None,
                  reads_changed: bool = True) -> OutcomeFacts:
    """Everything `summary_at` and `adverse_events_at` need, from all of the participant's
    effective entries. `previous`: the facts before the latest entry; when that entry changed
    no read (`reads_changed` false) and not the treatment start, their reads are kept as they
    are rather than derived again."""
    effective = participant.effective_entries()
    starts, therapy, events = [], [], []
    alive: date | None = None
    died: date | None = None
    for entry in effective:
        kind, on = entry.type, entry.occurred_on
        if kind == "ParticipantDied":
            died = on if died is None else died
        elif alive is None or on > alive:
            alive = on
        if kind in TREATMENT_TYPES:
            starts.append(on)
        elif kind == "AnticancerTherapyStarted":
            therapy.append(on)
        elif kind in AE_TYPES:
            events.append(AdverseEventFact(kind, on, entry.version, dict(entry.data)))
    start = min(starts, default=None)
    if previous is not None and not reads_changed and previous.treatment_start_on == start:
        criteria = previous.criteria
    else:
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
    )


def _criterion_facts(participant: Participant, criterion: Criterion, start: date | None
                     ) -> CriterionFacts:
    if start is None:
        return CriterionFacts(False, ())
    read = scans(participant, criterion)
    baseline = baseline_scan(participant, criterion, start, read=read)
    if baseline is None:
        return CriterionFacts(False, ())
    followups = [s for s in read if not s.baseline and baseline.on < s.on]
    points = evaluate(criterion, baseline.read, [(s.on, s.read) for s in followups])
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
        followups=tuple(FollowUp(p.on, tuple(k)) for p, k in zip(points, known, strict=True)),
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
        best_overall_response=best.confirmed.value,  # type: ignore[arg-type]
        os=os,
        pfs=progression_free_survival(outcomes, cutoff),
        dor=duration_of_response(outcomes, cutoff),
    )


def adverse_events_at(facts: OutcomeFacts, cutoff: date) -> list[AdverseEventRecord]:
    """`adverse_event_records(participant, cutoff)`, from the facts."""
    return adverse_event_records(_AdverseEventHistory(facts), cutoff)  # type: ignore[arg-type]


class _AdverseEventHistory:
    """The part of a participant the AE fold reads."""

    def __init__(self, facts: OutcomeFacts) -> None:
        self.id = facts.participant_id
        self._entries = facts.adverse_events

    def effective_entries(self) -> list[Any]:
        return [_Entry(f.type, f.on, f.version, f.data) for f in self._entries]


@dataclass(frozen=True, slots=True)
class _Entry:
    type: str
    occurred_on: date
    version: int
    data: dict[str, Any]


# -- stored form -------------------------------------------------------------------------------

def facts_document(facts: OutcomeFacts) -> dict[str, Any]:
    """The facts as JSON-ready values (the read model's `facts` column)."""
    return {
        "start": _iso(facts.treatment_start_on),
        "died": _iso(facts.died_on),
        "alive": _iso(facts.last_known_alive_on),
        "therapy": [d.isoformat() for d in facts.therapy_dates],
        "criteria": {c: {"evaluable": f.evaluable,
                         "followups": [[u.on.isoformat(),
                                        [[k.isoformat(), r.value] for k, r in u.known]]
                                       for u in f.followups]}
                     for c, f in facts.criteria.items()},
        "ae": [[a.type, a.on.isoformat(), a.version, a.data] for a in facts.adverse_events],
    }


def facts_from_document(participant_id: str, site_id: str, enrolled_on: date,
                        settled_from: date, doc: dict[str, Any]) -> OutcomeFacts:
    return OutcomeFacts(
        participant_id=participant_id,
        site_id=site_id,
        enrolled_on=enrolled_on,
        treatment_start_on=_day(doc["start"]),
        died_on=_day(doc["died"]),
        last_known_alive_on=_day(doc["alive"]),
        therapy_dates=tuple(date.fromisoformat(d) for d in doc["therapy"]),
        criteria={c: CriterionFacts(
            evaluable=bool(f["evaluable"]),
            followups=tuple(FollowUp(date.fromisoformat(on), tuple(
                (date.fromisoformat(k), Response(r)) for k, r in known))
                for on, known in f["followups"]))
            for c, f in doc["criteria"].items()},
        adverse_events=tuple(AdverseEventFact(t, date.fromisoformat(on), int(v), dict(data))
                             for t, on, v, data in doc["ae"]),
        settled_from=settled_from,
    )


def settled_document(facts: OutcomeFacts) -> dict[str, Any]:
    """Each criterion's summary at `settled_from` (the read model's `settled` column)."""
    return {c: summary_document(summary_at(facts, c, facts.settled_from)) for c in CRITERIA}


def summary_document(summary: ParticipantSummary) -> list[Any]:
    return [summary.treated, summary.evaluable, summary.best_overall_response,
            _time(summary.os), _time(summary.pfs), _time(summary.dor)]


def summary_from_document(doc: list[Any]) -> ParticipantSummary:
    treated, evaluable, best, os, pfs, dor = doc
    return ParticipantSummary(treated=treated, evaluable=evaluable, best_overall_response=best,
                              os=_tte(os), pfs=_tte(pfs), dor=_tte(dor))


def _time(value: TimeToEvent | None) -> list[Any] | None:
    return None if value is None else [value.days, value.event, value.censor_reason]


def _tte(value: list[Any] | None) -> TimeToEvent | None:
    return None if value is None else TimeToEvent(int(value[0]), bool(value[1]), value[2])


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)
