"""ADRS: per criterion, every follow-up read's overall time-point response (OVRLRESP) and the
confirmed best overall response (BOR), as the endpoints read derives them at the cutoff
(docs/rules.md sections 9 and 10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.participant_outcome import CriterionOutcome, Scan, offprotocol_therapy_on
from domain.protocol import CRITERIA, SD_MIN_DAYS, Criterion
from domain.response import Response, TimepointResponse, reads_counted
from domain.response.new_lesions import qualifies
from services.exports.adam_adsl import KEYS, TRACEID, treatment_start_sources, yes_no
from services.exports.adam_sources import Derived, ExportInconsistency, Source, Subject
from services.exports.xpt import Column, Dataset

OVRLRESP = "OVRLRESP"
BOR = "BOR"
QUALIFYING = "later read qualifying the new lesion"
PARAMS = {OVRLRESP: "Overall Response at a Time Point",
          BOR: "Confirmed Best Overall Response"}

ADRS = Dataset("ADRS", "Tumor Response Analysis Dataset", (
    *KEYS,
    Column("ASEQ", "Analysis Sequence Number", "integer"),
    Column("PARAMCD", "Parameter Code"),
    Column("PARAM", "Parameter"),
    Column("PARCAT1", "Response Criteria"),
    Column("AVALC", "Analysis Value (C)"),
    Column("ADT", "Analysis Date", "sasDate"),
    Column("ADY", "Analysis Relative Day", "integer"),
    Column("TRGRESP", "Target Response"),
    Column("NTRGRESP", "Non-Target Response"),
    Column("NEWLFL", "New Lesion Counted Flag"),
    Column("BACKDTFL", "PD Dated Back to First Sighting Flag"),
    Column("TRGSUM", "Sum of Target Diameters (mm)", "float"),
    Column("NADIR", "Nadir Sum Before This Read (mm)", "float"),
    Column("ANL01FL", "Analysis Flag 01: Counted for BOR/ORR"),
    Column("ITTFL", "Intent-To-Treat Population Flag"),
    Column("SAFFL", "Safety Population Flag"),
    TRACEID,
))


@dataclass
class ResponseRows:
    """One participant's ADRS rows, and each read's ASEQ by (criterion, scan event id), which
    ADTTE names as the source of a PFS or DOR date."""

    rows: list[Derived]
    aseq_of: dict[tuple[Criterion, str], int]


def adrs_rows(subject: Subject, flags: dict[str, str]) -> ResponseRows:
    """Every criterion's OVRLRESP rows in date order, each followed by its BOR row (treated
    participants only: BOR is over the reads after treatment start)."""
    found = ResponseRows([], {})
    for criterion in CRITERIA:
        outcome = subject.derived.by_criterion[criterion]
        counted = {id(tp) for tp in counted_reads(subject, outcome)}
        for scan, point in zip(outcome.followups, outcome.timepoints, strict=True):
            row = _timepoint_row(subject, criterion, outcome, scan, point, id(point) in counted)
            found.rows.append(row)
            found.aseq_of[(criterion, scan.event_id)] = len(found.rows)
        if subject.derived.treatment_start_on is not None:
            found.rows.append(_best_row(subject, criterion, outcome))
    for aseq, row in enumerate(found.rows, start=1):
        row.values.update(ASEQ=aseq, **flags)
    return found


def counted_reads(subject: Subject, outcome: CriterionOutcome) -> list[TimepointResponse]:
    """The reads best overall response looks at (`reads_counted`: after treatment start,
    before off-protocol therapy, up to the first PD)."""
    start = subject.derived.treatment_start_on
    if start is None:
        return []
    therapy = offprotocol_therapy_on(subject.participant, subject.cutoff)
    return reads_counted(outcome.timepoints, start, therapy)


def scans_on(outcome: CriterionOutcome, on: date, responses: tuple[Response, ...]
             ) -> list[Scan]:
    """The follow-up scans dated `on` whose overall response is one of `responses`."""
    return [scan for scan, point in zip(outcome.followups, outcome.timepoints, strict=True)
            if point.on == on and point.overall in responses]


def read_sources(subject: Subject, role: str, scans: list[Scan]) -> list[Source]:
    return [s for scan in scans for s in subject.source_of(role, scan.event_id)]


def _base(subject: Subject, paramcd: str, criterion: Criterion) -> Derived:
    return Derived({**subject.keys, "PARAMCD": paramcd, "PARAM": PARAMS[paramcd],
                    "PARCAT1": criterion})


def _study_day(subject: Subject, on: date | None) -> int | None:
    start = subject.derived.treatment_start_on
    if on is None or start is None:
        return None
    days = (on - start).days
    return days + 1 if days >= 0 else days


def _timepoint_row(subject: Subject, criterion: Criterion, outcome: CriterionOutcome,
                   scan: Scan, point: TimepointResponse, counted: bool) -> Derived:
    row = _base(subject, OVRLRESP, criterion)
    row.values.update(
        AVALC=point.overall.value, ADT=point.on, ADY=_study_day(subject, point.on),
        TRGRESP=point.target.value, NTRGRESP=point.non_target.value,
        NEWLFL=yes_no(point.new_lesion), BACKDTFL="Y" if point.backdated else None,
        TRGSUM=point.sum_mm, NADIR=point.nadir_mm, ANL01FL="Y" if counted else None,
    )
    read = subject.source_of("read", scan.event_id)
    row.trace("ADT", read)
    row.trace("AVALC", read)
    assert outcome.baseline is not None  # a follow-up is only assessed against a baseline
    row.trace("AVALC", subject.source_of("baseline read", outcome.baseline.event_id))
    if point.backdated:
        row.trace("AVALC", read_sources(subject, QUALIFYING,
                                        qualifying_scans(criterion, outcome, scan)))
    if counted:
        row.trace("ANL01FL", read + treatment_start_sources(subject, "treatment start"))
    return row


def progression_sources(subject: Subject, criterion: Criterion, outcome: CriterionOutcome,
                        role: str, scans: list[Scan]) -> list[Source]:
    """PD reads as sources, each with the later read that dated it back, if it was."""
    found: list[Source] = []
    for scan in scans:
        found += subject.source_of(role, scan.event_id)
        if outcome.timepoints[outcome.followups.index(scan)].backdated:
            found += read_sources(subject, QUALIFYING,
                                  qualifying_scans(criterion, outcome, scan))
    return found


def qualifying_scans(criterion: Criterion, outcome: CriterionOutcome, scan: Scan
                     ) -> list[Scan]:
    """The first later read at which a new lesion first seen at `scan` qualifies (the read
    that dated PD back to `scan`, docs/rules.md section 8)."""
    seen = {lesion.lesion_id for lesion in scan.read.new_lesions}
    later = outcome.followups[outcome.followups.index(scan) + 1:]
    for candidate in later:
        if any(lesion.lesion_id in seen and qualifies(criterion, lesion)
               for lesion in candidate.read.new_lesions):
            return [candidate]
    raise ExportInconsistency(f"a back-dated PD at {scan.on} ({criterion}) names no later read")


def _best_row(subject: Subject, criterion: Criterion, outcome: CriterionOutcome) -> Derived:
    summary = subject.summary(criterion)
    best = outcome.best
    assert best is not None  # treated by the cutoff
    row = _base(subject, BOR, criterion)
    counted = counted_reads(subject, outcome)
    on = _best_on(subject, summary.best_overall_response, best.response_start_on,
                  best.first_pd_on, counted)
    row.values.update(AVALC=summary.best_overall_response, ADT=on,
                      ADY=_study_day(subject, on),
                      ANL01FL="Y" if summary.evaluable else None)
    counted_ids = {id(tp) for tp in counted}
    counted_scans = [scan for scan, point in zip(outcome.followups, outcome.timepoints,
                                                 strict=True) if id(point) in counted_ids]
    started = treatment_start_sources(subject, "treatment start")
    row.trace("AVALC", read_sources(subject, "read counted for BOR", counted_scans) + started)
    therapy = offprotocol_therapy_on(subject.participant, subject.cutoff)
    if therapy is not None:
        row.trace("AVALC", subject.sources(
            "new anticancer therapy", [e for e in subject.entries("AnticancerTherapyStarted")
                                       if e.occurred_on == therapy]))
    if on is not None:
        row.trace("ADT", read_sources(subject, "read giving the BOR date",
                                      [s for s in counted_scans if s.on == on]))
    if summary.evaluable:
        assert outcome.baseline is not None
        row.trace("ANL01FL", subject.source_of("baseline read", outcome.baseline.event_id)
                  + started)
    return row


def _best_on(subject: Subject, best: str, response_start_on: date | None,
             first_pd_on: date | None, counted: list[TimepointResponse]) -> date | None:
    """The date the BOR was first shown: the first read of the confirmed response (CR, PR),
    the first read counting as SD (a CR, PR or SD read at least SD_MIN_DAYS after treatment
    start), the first PD; none for NE."""
    if best in (Response.CR, Response.PR):
        return response_start_on
    if best == Response.PD:
        return first_pd_on
    if best == Response.SD:
        start = subject.derived.treatment_start_on
        assert start is not None
        return next(tp.on for tp in counted
                    if tp.overall in (Response.CR, Response.PR, Response.SD)
                    and (tp.on - start).days >= SD_MIN_DAYS)
    return None
