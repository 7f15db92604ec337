"""One participant's tumour response and times to event at a clinical cutoff (docs/rules.md).

Pure derivations from effective entries: which scan is the baseline, time-point responses, best
overall response, OS/PFS/DOR, and the checks a scan's reads must pass before they are recorded.
No I/O and no clock: the cutoff comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

from domain.analysis.endpoints import BorCategory, ParticipantSummary
from domain.analysis.time_to_event import (
    AdequateRead,
    ParticipantOutcomes,
    TimeToEvent,
    duration_of_response,
    overall_survival,
    progression_free_survival,
)
from domain.casebook import last_known_alive_on, treatment_start_on
from domain.entries import ParticipantHistory
from domain.events import TumorAssessedData
from domain.protocol import CRITERIA, Criterion
from domain.response import (
    BestOverallResponse,
    Read,
    Response,
    TimepointResponse,
    baseline_problems,
    best_overall_response,
    evaluate,
    followup_problems,
    has_measurable_disease,
)

NO_CUTOFF = date.max
"""All data, as the casebook shows it: nothing is after this cutoff."""


@dataclass(frozen=True)
class Scan:
    """One criterion's read of one effective TumorAssessed entry."""

    event_id: str
    version: int
    on: date
    baseline: bool
    read: Read


@dataclass(frozen=True)
class CriterionOutcome:
    """One participant under one criterion at a cutoff."""

    baseline: Scan | None
    followups: tuple[Scan, ...]
    timepoints: tuple[TimepointResponse, ...]
    """One per follow-up, in the same order."""
    best: BestOverallResponse | None
    """None when not treated by the cutoff."""
    evaluable: bool
    pfs: TimeToEvent | None
    dor: TimeToEvent | None


@dataclass(frozen=True)
class ParticipantOutcome:
    """One participant at a cutoff: treatment start, OS, and each criterion's outcome."""

    participant_id: str
    treatment_start_on: date | None
    """None when not treated by the cutoff."""
    os: TimeToEvent | None
    by_criterion: dict[Criterion, CriterionOutcome]

    def summary(self, criterion: Criterion) -> ParticipantSummary:
        """The endpoints report's view: populations, confirmed BOR, times to event."""
        outcome = self.by_criterion[criterion]
        best = outcome.best.confirmed.value if outcome.best is not None else "NE"
        return ParticipantSummary(
            treated=self.treatment_start_on is not None,
            evaluable=outcome.evaluable,
            best_overall_response=cast(BorCategory, best),
            os=self.os,
            pfs=outcome.pfs,
            dor=outcome.dor,
        )


def scans(participant: ParticipantHistory, criterion: Criterion) -> list[Scan]:
    """Every effective read under `criterion`, by date (same date: recording order)."""
    found = [
        Scan(e.event_id, e.version, e.occurred_on, scan.baseline, scan.reads[criterion])
        for e in participant.entries_of("TumorAssessed")
        if criterion in (scan := e.payload_as(TumorAssessedData)).reads
    ]
    return sorted(found, key=lambda scan: (scan.on, scan.version))


def baseline_scan(
    participant: ParticipantHistory,
    criterion: Criterion,
    treatment_start: date | None,
    cutoff: date = NO_CUTOFF,
    read: list[Scan] | None = None,
) -> Scan | None:
    """The latest baseline read on or before treatment start (untreated: on or before cutoff);
    `read`: the participant's scans under `criterion`, when the caller has them already."""
    limit = treatment_start if treatment_start is not None else cutoff
    found = [s for s in (read if read is not None else scans(participant, criterion))
             if s.baseline and s.on <= limit]
    return found[-1] if found else None


def started_by(participant: ParticipantHistory, cutoff: date) -> date | None:
    """Treatment start, if it is on or before the cutoff (docs/rules.md "treated")."""
    start = treatment_start_on(participant)
    return start if start is not None and start <= cutoff else None


def offprotocol_therapy_on(participant: ParticipantHistory, cutoff: date) -> date | None:
    """The earliest off-protocol anticancer therapy dated on or before the cutoff."""
    dates = [e.occurred_on for e in participant.entries_of("AnticancerTherapyStarted")]
    return min((d for d in dates if d <= cutoff), default=None)


def participant_outcome(participant: ParticipantHistory, cutoff: date = NO_CUTOFF
                        ) -> ParticipantOutcome:
    """Everything docs/rules.md derives for one participant; nothing dated after D is an outcome,
    but any entry dated after D shows the participant was alive at D."""
    start = started_by(participant, cutoff)
    alive_on = last_known_alive_on(participant)
    therapy_on = offprotocol_therapy_on(participant, cutoff)
    vital = ParticipantOutcomes(start, (), participant.died_on, alive_on, therapy_on)
    return ParticipantOutcome(
        participant_id=participant.id,
        treatment_start_on=start,
        os=overall_survival(vital, cutoff),
        by_criterion={c: _criterion_outcome(participant, c, vital, cutoff) for c in CRITERIA},
    )


def _criterion_outcome(
    participant: ParticipantHistory, criterion: Criterion, vital: ParticipantOutcomes, cutoff: date
) -> CriterionOutcome:
    start = vital.treatment_start_on
    read = scans(participant, criterion)
    baseline = baseline_scan(participant, criterion, start, cutoff, read)
    followups: tuple[Scan, ...] = ()
    timepoints: tuple[TimepointResponse, ...] = ()
    if baseline is not None:
        followups = tuple(s for s in read if not s.baseline and baseline.on < s.on <= cutoff)
        timepoints = tuple(evaluate(criterion, baseline.read, [(s.on, s.read) for s in followups]))
    evaluable = start is not None and baseline is not None and has_measurable_disease(baseline.read)
    best = None
    if start is not None:
        best = best_overall_response(timepoints, start, vital.offprotocol_therapy_on)
    outcomes = ParticipantOutcomes(
        treatment_start_on=start,
        adequate_reads=[
            AdequateRead(tp.on, tp.overall is Response.PD)
            for tp in timepoints
            if tp.overall is not Response.NE
        ],
        death_on=vital.death_on,
        last_known_alive_on=vital.last_known_alive_on,
        offprotocol_therapy_on=vital.offprotocol_therapy_on,
        response_start_on=best.response_start_on if best is not None and evaluable else None,
    )
    return CriterionOutcome(
        baseline=baseline,
        followups=followups,
        timepoints=timepoints,
        best=best,
        evaluable=evaluable,
        pfs=progression_free_survival(outcomes, cutoff),
        dor=duration_of_response(outcomes, cutoff),
    )


def read_problems(participant: ParticipantHistory, event_id: str) -> dict[Criterion, list[str]]:
    """docs/rules.md checks of one TumorAssessed entry: a baseline's target rules, or a
    follow-up naming only targets of the baseline it follows."""
    entry = participant.entries[event_id]
    scan = entry.payload_as(TumorAssessedData)
    start = treatment_start_on(participant)
    problems: dict[Criterion, list[str]] = {}
    for criterion, read in scan.reads.items():
        if scan.baseline:
            found = baseline_problems(criterion, read)
        else:
            baseline = baseline_scan(participant, criterion, start)
            found = []
            if baseline is not None and baseline.on < entry.occurred_on:
                found = followup_problems(criterion, baseline.read, read)
        if found:
            problems[criterion] = found
    return problems
