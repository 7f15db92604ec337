"""Tumour response and endpoints of participants at a clinical cutoff (docs/rules.md).

Pure derivations from effective entries: which scan is the baseline, time-point responses,
best overall response, OS/PFS/DOR, and AE records for the safety tables. No I/O and no
clock: the cutoff and the recorded time come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from domain.analysis.endpoints import BestOverallResponse as BorCode
from domain.analysis.endpoints import ParticipantSummary, endpoints_report, rfc3339
from domain.analysis.safety import AdverseEventRecord, safety_report
from domain.analysis.time_to_event import (
    AdequateRead,
    ParticipantOutcomes,
    TimeToEvent,
    duration_of_response,
    overall_survival,
    progression_free_survival,
)
from domain.casebook import last_known_alive_on, treatment_start_on
from domain.participant import Participant
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
from domain.response.reads import stored_read

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
            best_overall_response=cast(BorCode, best),
            os=self.os,
            pfs=outcome.pfs,
            dor=outcome.dor,
        )


def scans(participant: Participant, criterion: Criterion) -> list[Scan]:
    """Every effective read under `criterion`, by date (same date: recording order)."""
    found = [
        Scan(
            e.event_id,
            e.version,
            e.occurred_on,
            bool(e.data["baseline"]),
            stored_read(e.data["reads"][criterion]),
        )
        for e in participant.entries_of("TumorAssessed")
        if criterion in e.data["reads"]
    ]
    return sorted(found, key=lambda scan: (scan.on, scan.version))


def baseline_scan(
    participant: Participant,
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


def _started_by(participant: Participant, cutoff: date) -> date | None:
    """Treatment start, if it is on or before the cutoff (docs/rules.md "treated")."""
    start = treatment_start_on(participant)
    return start if start is not None and start <= cutoff else None


def _offprotocol_therapy_on(participant: Participant, cutoff: date) -> date | None:
    """The earliest off-protocol anticancer therapy dated on or before the cutoff."""
    dates = [e.occurred_on for e in participant.entries_of("AnticancerTherapyStarted")]
    return min((d for d in dates if d <= cutoff), default=None)


def participant_outcome(participant: Participant, cutoff: date = NO_CUTOFF) -> ParticipantOutcome:
    """Everything docs/rules.md derives for one participant; nothing dated after D is an outcome,
    but any entry dated after D shows the participant was alive at D."""
    start = _started_by(participant, cutoff)
    alive_on = last_known_alive_on(participant)
    therapy_on = _offprotocol_therapy_on(participant, cutoff)
    vital = ParticipantOutcomes(start, (), participant.died_on, alive_on, therapy_on)
    return ParticipantOutcome(
        participant_id=participant.id,
        treatment_start_on=start,
        os=overall_survival(vital, cutoff),
        by_criterion={c: _criterion_outcome(participant, c, vital, cutoff) for c in CRITERIA},
    )


def _criterion_outcome(
    participant: Participant, criterion: Criterion, vital: ParticipantOutcomes, cutoff: date
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


def read_problems(participant: Participant, event_id: str) -> dict[Criterion, list[str]]:
    """docs/rules.md checks of one TumorAssessed entry: a baseline's target rules, or a
    follow-up naming only targets of the baseline it follows."""
    entry = participant.entries[event_id]
    start = treatment_start_on(participant)
    problems: dict[Criterion, list[str]] = {}
    for criterion, raw in entry.data["reads"].items():
        read = stored_read(raw)
        if entry.data["baseline"]:
            found = baseline_problems(criterion, read)
        else:
            baseline = baseline_scan(participant, criterion, start)
            found = []
            if baseline is not None and baseline.on < entry.occurred_on:
                found = followup_problems(criterion, baseline.read, read)
        if found:
            problems[criterion] = found
    return problems


def adverse_event_records(
    participant: Participant, cutoff: date = NO_CUTOFF
) -> list[AdverseEventRecord]:
    """Each AE as of the cutoff: worst grade reported or updated, serious if ever serious,
    the latest attribution, and whether a drug was discontinued naming it."""
    entries = sorted(
        (e for e in participant.effective_entries() if e.occurred_on <= cutoff),
        key=lambda e: (e.occurred_on, e.version),
    )
    discontinued = {
        e.data.get("adverse_event_id")
        for e in entries
        if e.type == "DoseModified" and e.data["action"] == "discontinued"
    }
    seen: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.type == "AdverseEventReported":
            seen[entry.data["ae_id"]] = {
                "term": entry.data["term"],
                "onset_on": entry.occurred_on,
                "worst_grade": entry.data["grade"],
                "serious": entry.data["serious"],
                "related_to": frozenset(entry.data.get("related_to") or ()),
            }
        elif entry.type == "AdverseEventUpdated" and entry.data["ae_id"] in seen:
            ae = seen[entry.data["ae_id"]]
            if entry.data.get("grade") is not None:
                ae["worst_grade"] = max(ae["worst_grade"], entry.data["grade"])
            ae["serious"] = ae["serious"] or bool(entry.data.get("serious"))
            if entry.data.get("related_to") is not None:
                ae["related_to"] = frozenset(entry.data["related_to"])
    return [
        AdverseEventRecord(
            participant_id=participant.id, led_to_discontinuation=ae_id in discontinued, **fields
        )
        for ae_id, fields in seen.items()
    ]


def study_endpoints(
    participants: Iterable[Participant], criterion: Criterion, cutoff: date, as_of: datetime
) -> dict[str, Any]:
    """The docs/api.md endpoints body; participants enrolled after the cutoff are not yet in it."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; use one of {', '.join(CRITERIA)}")
    summaries = [
        participant_outcome(p, cutoff).summary(criterion)
        for p in participants
        if p.enrollment.occurred_on <= cutoff
    ]
    return endpoints_report(summaries, criteria=criterion, cutoff=cutoff, as_of=as_of)


def study_safety(
    participants: Iterable[Participant], cutoff: date, as_of: datetime | None = None
) -> dict[str, Any]:
    """Treatment-emergent AE tables over the participants treated by the cutoff."""
    chosen = list(participants)
    starts = {p.id: start for p in chosen if (start := _started_by(p, cutoff)) is not None}
    records = [record for p in chosen for record in adverse_event_records(p, cutoff)]
    report = safety_report(records, starts, cutoff=cutoff)
    return {
        "cutoff": cutoff.isoformat(),
        "as_of": None if as_of is None else rfc3339(as_of),
        **report.to_dict(),
    }
