"""ADTTE: overall survival, and per criterion progression-free survival and duration of
response, one row per parameter per participant who has it: the times to event of the
endpoints read, in days (docs/rules.md sections 13 to 15)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from domain.analysis.time_to_event import (
    NEW_ANTICANCER_THERAPY,
    TWO_MISSED_ASSESSMENTS,
    TimeToEvent,
)
from domain.participant_outcome import CriterionOutcome
from domain.protocol import CRITERIA, Criterion
from domain.response import Response
from services.exports.adam_adrs import (
    ResponseRows,
    progression_sources,
    read_sources,
    scans_on,
)
from services.exports.adam_adsl import KEYS, TRACEID, last_alive, treatment_start_sources
from services.exports.adam_sources import (
    CORRECTION_OF,
    Derived,
    ExportInconsistency,
    Source,
    Subject,
)
from services.exports.xpt import Column, Dataset

PARAMS = {"OS": "Overall Survival (days)", "PFS": "Progression-Free Survival (days)",
          "DOR": "Duration of Response (days)"}
ADEQUATE = (Response.CR, Response.PR, Response.SD, Response.PD)
"""A read whose overall response is not NE."""

ADTTE = Dataset("ADTTE", "Time-to-Event Analysis Dataset", (
    *KEYS,
    Column("ASEQ", "Analysis Sequence Number", "integer"),
    Column("PARAMCD", "Parameter Code"),
    Column("PARAM", "Parameter"),
    Column("PARCAT1", "Response Criteria"),
    Column("AVAL", "Analysis Value", "float"),
    Column("AVALU", "Analysis Value Unit"),
    Column("CNSR", "Censor (0 = Event, 1 = Censored)", "integer"),
    Column("STARTDT", "Time-to-Event Origin Date", "sasDate"),
    Column("ADT", "Analysis Date (Event or Censoring)", "sasDate"),
    Column("EVNTDESC", "Event or Censoring Description"),
    Column("CNSDTDSC", "Censor Date Description"),
    Column("SRCDOM", "Source Data"),
    Column("SRCVAR", "Source Variable"),
    Column("SRCSEQ", "Source Sequence Number", "integer"),
    Column("ITTFL", "Intent-To-Treat Population Flag"),
    Column("SAFFL", "Safety Population Flag"),
    TRACEID,
))


@dataclass
class _Origin:
    """Where a time to event starts, and the events that date it."""

    on: date
    sources: list[Source]
    description: str
    srcdom: str
    srcvar: str
    srcseq: int | None = None


def adtte_rows(subject: Subject, responses: ResponseRows, flags: dict[str, str]
               ) -> list[Derived]:
    """OS, PFS per criterion, DOR per criterion (confirmed responders), in that order."""
    start = subject.derived.treatment_start_on
    if start is None:
        return []
    treated = _Origin(start, treatment_start_sources(subject), "treatment start", "ADSL",
                      "TRTSDT")
    rows = [_os_row(subject, treated)]
    for criterion in CRITERIA:
        pfs = subject.summary(criterion).pfs
        assert pfs is not None  # treated by the cutoff
        rows.append(_progression_row(subject, "PFS", criterion, pfs, treated, responses))
    for criterion in CRITERIA:
        dor = subject.summary(criterion).dor
        if dor is not None:
            origin = _response_start(subject, criterion, responses)
            rows.append(_progression_row(subject, "DOR", criterion, dor, origin, responses))
    for aseq, row in enumerate(rows, start=1):
        row.values.update(ASEQ=aseq, **flags)
    return rows


def _row(subject: Subject, paramcd: str, criterion: Criterion | None, tte: TimeToEvent,
         origin: _Origin) -> tuple[Derived, date]:
    end = origin.on + timedelta(days=tte.days - 1)
    row = Derived({**subject.keys, "PARAMCD": paramcd, "PARAM": PARAMS[paramcd],
                   "PARCAT1": criterion, "AVAL": tte.days, "AVALU": "DAYS",
                   "CNSR": 0 if tte.event else 1, "STARTDT": origin.on, "ADT": end})
    row.trace("STARTDT", origin.sources)
    if not tte.event:
        row.values["EVNTDESC"] = tte.censor_reason
    return row, end


def _os_row(subject: Subject, origin: _Origin) -> Derived:
    os = subject.summary(CRITERIA[0]).os
    assert os is not None and all(subject.summary(c).os == os for c in CRITERIA)
    row, end = _row(subject, "OS", None, os, origin)
    if os.event:
        deaths = [e for e in subject.entries("ParticipantDied")[:1] if e.occurred_on == end]
        row.values.update(EVNTDESC="death", SRCDOM="ADSL", SRCVAR="DTHDT")
        row.trace("ADT", subject.sources("death", deaths))
        return row
    alive_on, sources = last_alive(subject)
    if alive_on != end:
        raise ExportInconsistency(f"{subject.id}: OS censored at {end}, but the entries show "
                                  f"the participant last alive on {alive_on}")
    row.values.update(CNSDTDSC="last known alive", SRCDOM="ADSL", SRCVAR="LSTALVDT")
    row.trace("ADT", sources)
    return row


def _response_start(subject: Subject, criterion: Criterion, responses: ResponseRows
                    ) -> _Origin:
    outcome = subject.derived.by_criterion[criterion]
    assert outcome.best is not None and outcome.best.response_start_on is not None
    on = outcome.best.response_start_on
    scans = scans_on(outcome, on, (Response.CR, Response.PR))
    aseq = responses.aseq_of[(criterion, scans[0].event_id)] if scans else None
    return _Origin(on, read_sources(subject, "response start", scans), "response start",
                   "ADRS", "ADT", aseq)


def _progression_row(subject: Subject, paramcd: str, criterion: Criterion, tte: TimeToEvent,
                     origin: _Origin, responses: ResponseRows) -> Derived:
    """PFS or DOR: an event at a PD read or a death; censored at the origin or at the last
    adequate read, with what caused the censoring traced too (docs/rules.md section 13)."""
    outcome = subject.derived.by_criterion[criterion]
    row, end = _row(subject, paramcd, criterion, tte, origin)
    if tte.event:
        _event(subject, criterion, outcome, row, end, responses)
        return row
    if end == origin.on:
        row.values.update(CNSDTDSC=origin.description, SRCDOM=origin.srcdom,
                          SRCVAR=origin.srcvar, SRCSEQ=origin.srcseq)
        row.trace("ADT", [_as(source, f"censored at {origin.description}")
                          for source in origin.sources])
    else:
        scans = scans_on(outcome, end, ADEQUATE)
        row.values.update(CNSDTDSC="last adequate assessment", SRCDOM="ADRS", SRCVAR="ADT",
                          SRCSEQ=responses.aseq_of[(criterion, scans[0].event_id)]
                          if scans else None)
        row.trace("ADT", read_sources(subject, "last adequate assessment", scans))
    if tte.censor_reason == NEW_ANTICANCER_THERAPY:
        therapy = [e for e in subject.entries("AnticancerTherapyStarted")
                   if e.occurred_on <= subject.cutoff]
        first = min(e.occurred_on for e in therapy)
        row.trace("CNSR", subject.sources("new anticancer therapy",
                                          [e for e in therapy if e.occurred_on == first]))
    elif tte.censor_reason == TWO_MISSED_ASSESSMENTS:
        row.trace("CNSR", _late_event(subject, criterion, outcome))
    return row


def _event(subject: Subject, criterion: Criterion, outcome: CriterionOutcome, row: Derived,
           end: date, responses: ResponseRows) -> None:
    progressed = scans_on(outcome, end, (Response.PD,))
    deaths = [e for e in subject.entries("ParticipantDied")[:1] if e.occurred_on == end]
    if progressed:
        row.values.update(EVNTDESC="progression", SRCDOM="ADRS", SRCVAR="ADT",
                          SRCSEQ=responses.aseq_of[(criterion, progressed[0].event_id)])
    elif deaths:
        row.values.update(EVNTDESC="death", SRCDOM="ADSL", SRCVAR="DTHDT")
    sources = progression_sources(subject, criterion, outcome, "progression", progressed)
    sources += subject.sources("death", deaths)
    row.trace("ADT", sources)
    row.trace("CNSR", sources)


def _late_event(subject: Subject, criterion: Criterion, outcome: CriterionOutcome
                ) -> list[Source]:
    """The PD read or death that came more than two missed assessments after the last
    adequate read (the reason the time is censored rather than an event)."""
    assert outcome.best is not None
    pd_on = outcome.best.first_pd_on
    died_on = subject.participant.died_on
    if died_on is not None and died_on > subject.cutoff:
        died_on = None
    candidates = [d for d in (pd_on, died_on) if d is not None]
    if not candidates:
        raise ExportInconsistency(f"{subject.id}: censored for missed assessments, with no "
                                  f"progression or death by {subject.cutoff}")
    first = min(candidates)
    found = progression_sources(
        subject, criterion, outcome, "event after two missed assessments",
        scans_on(outcome, first, (Response.PD,)) if first == pd_on else [])
    if first == died_on:
        found += subject.sources("death after two missed assessments",
                                 subject.entries("ParticipantDied")[:1])
    return found


def _as(source: Source, role: str) -> Source:
    """The source under another role (a correction stays a correction of it)."""
    corrected = source.role.startswith(CORRECTION_OF)
    return replace(source, role=CORRECTION_OF + role if corrected else role)
