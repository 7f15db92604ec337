"""ADSL: one row per participant enrolled by the cutoff, with the dates and population flags
the analyses start from (docs/rules.md sections 1, 11 and 15; docs/exports/adam.md)."""

from __future__ import annotations

from datetime import date

from domain.casebook import TREATMENT_TYPES, last_known_alive_on
from domain.entries import Entry
from domain.protocol import CRITERIA, MRECIST, RECIST_11
from services.exports.adam_sources import Derived, Source, Subject
from services.exports.xpt import Column, Dataset

KEYS = (
    Column("STUDYID", "Study Identifier"),
    Column("USUBJID", "Unique Subject Identifier"),
    Column("SUBJID", "Subject Identifier for the Study"),
    Column("SITEID", "Study Site Identifier"),
)
TRACEID = Column("TRACEID", "Trace Key in ADTRACE")
FLAG_OF = {RECIST_11: "EFFRFL", MRECIST: "EFFMFL"}
"""Per criterion, the ADSL flag of the evaluable population."""

ADSL = Dataset("ADSL", "Subject-Level Analysis Dataset", (
    *KEYS,
    Column("AGE", "Age at Enrollment", "integer"),
    Column("AGEU", "Age Units"),
    Column("SEX", "Sex"),
    Column("ECOGBL", "Baseline ECOG Performance Status", "integer"),
    Column("CHILDPGH", "Baseline Child-Pugh Class"),
    Column("BCLC", "Baseline BCLC Stage"),
    Column("PVTTFL", "Portal Vein Tumour Thrombus Flag"),
    Column("EHSFL", "Extrahepatic Spread Flag"),
    Column("ETIOLOGY", "HCC Etiology"),
    Column("AFPBL", "Baseline AFP (ng/mL)", "float"),
    Column("RFICDT", "Date of Informed Consent", "sasDate"),
    Column("ENRLDT", "Date of Enrollment", "sasDate"),
    Column("TRTSDT", "Date of First Exposure to Treatment", "sasDate"),
    Column("TRTEDT", "Date of Last Exposure to Treatment", "sasDate"),
    Column("DTHDT", "Date of Death", "sasDate"),
    Column("DTHFL", "Subject Death Flag"),
    Column("LSTALVDT", "Date Last Known Alive", "sasDate"),
    Column("EOSSTT", "End of Study Status"),
    Column("EOSDT", "End of Study Date", "sasDate"),
    Column("DCSREAS", "Reason for Discontinuation from Study"),
    Column("DCUTDT", "Data Cutoff Date", "sasDate"),
    Column("ITTFL", "Intent-To-Treat Population Flag"),
    Column("SAFFL", "Safety Population Flag"),
    Column("EFFFL", "Efficacy Population Flag"),
    Column("EFFRFL", "Efficacy Evaluable Flag RECIST 1.1"),
    Column("EFFMFL", "Efficacy Evaluable Flag mRECIST"),
    TRACEID,
))

ENROLLMENT_VARIABLES = {
    "SEX": "sex", "ECOGBL": "ecog", "CHILDPGH": "child_pugh", "BCLC": "bclc",
    "PVTTFL": "pvtt", "EHSFL": "extrahepatic_spread", "ETIOLOGY": "etiology",
    "AFPBL": "afp_ng_ml",
}
"""ADSL variables copied from the enrolment's data."""


def yes_no(flag: bool) -> str:
    return "Y" if flag else "N"


def adsl_row(subject: Subject) -> Derived:
    """The participant's ADSL row, every derived variable traced to its events."""
    participant, cutoff = subject.participant, subject.cutoff
    enrollment = participant.enrollment
    data = enrollment.data
    row = Derived({**subject.keys})
    enrolled = subject.sources("enrolment", [enrollment])
    for variable, name in ENROLLMENT_VARIABLES.items():
        value = data[name]
        row.values[variable] = yes_no(value) if isinstance(value, bool) else value
        row.trace(variable, enrolled)
    row.values.update(AGE=enrollment.occurred_on.year - int(data["birth_year"]), AGEU="YEARS",
                      RFICDT=date.fromisoformat(str(data["consented_on"])),
                      ENRLDT=enrollment.occurred_on, DCUTDT=cutoff, ITTFL="Y")
    for variable in ("AGE", "RFICDT", "ENRLDT", "ITTFL"):
        row.trace(variable, enrolled)
    row.trace("SITEID", site_sources(subject))
    _treatment(subject, row)
    _vital(subject, row)
    evaluable = {c: subject.summary(c).evaluable for c in CRITERIA}
    row.values["EFFFL"] = yes_no(any(evaluable.values()))
    for criterion in CRITERIA:
        flag = FLAG_OF[criterion]
        row.values[flag] = yes_no(evaluable[criterion])
        baseline = subject.derived.by_criterion[criterion].baseline
        if baseline is not None:
            row.trace(flag, subject.source_of(f"baseline read ({criterion})", baseline.event_id))
            if evaluable[criterion]:
                row.trace("EFFFL", subject.source_of(f"baseline read ({criterion})",
                                                     baseline.event_id))
    return row


def site_sources(subject: Subject) -> list[Source]:
    """The event that put the participant at their site: the last transfer, else the
    enrolment (with any correction of its site)."""
    participant = subject.participant
    transfers = [e for e in participant.entries.values() if e.type == "ParticipantTransferred"]
    if transfers:
        return subject.sources("transfer", transfers[-1:])
    return subject.sources("enrolment", [participant.enrollment])


def treatment_start_sources(subject: Subject, role: str = "first treatment") -> list[Source]:
    """The doses and TACE sessions dated on the treatment start (none if not treated by D)."""
    start = subject.derived.treatment_start_on
    return subject.sources(role, [e for e in subject.entries(*TREATMENT_TYPES)
                                  if e.occurred_on == start])


def _treatment(subject: Subject, row: Derived) -> None:
    start = subject.derived.treatment_start_on
    row.values["SAFFL"] = yes_no(start is not None)
    if start is None:
        return
    row.values["TRTSDT"] = start
    row.trace("TRTSDT", treatment_start_sources(subject))
    row.trace("SAFFL", treatment_start_sources(subject))
    given = [e for e in subject.entries(*TREATMENT_TYPES) if e.occurred_on <= subject.cutoff]
    ends = {e.event_id: min(_last_day(e), subject.cutoff) for e in given}
    last = max(ends.values())
    row.values["TRTEDT"] = last
    row.trace("TRTEDT", subject.sources("last treatment",
                                        [e for e in given if ends[e.event_id] == last]))


def _last_day(entry: Entry) -> date:
    """A dosing period's last day (`end_on`), else the day of the dose or session."""
    end_on = entry.data.get("end_on")
    return date.fromisoformat(str(end_on)) if end_on else entry.occurred_on


def _vital(subject: Subject, row: Derived) -> None:
    """Death, last date known alive and end of study, at the cutoff."""
    participant, cutoff = subject.participant, subject.cutoff
    died_on = participant.died_on
    deaths = subject.entries("ParticipantDied")[:1]
    if died_on is not None and died_on <= cutoff:
        row.values.update(DTHDT=died_on, DTHFL="Y", EOSSTT="DISCONTINUED", EOSDT=died_on,
                          DCSREAS="DEATH")
        for variable in ("DTHDT", "DTHFL", "EOSSTT", "EOSDT", "DCSREAS"):
            row.trace(variable, subject.sources("death", deaths))
    else:
        left = [e for e in subject.entries("ParticipantWithdrew")
                if e.occurred_on <= cutoff and not e.data["follow_up_allowed"]][:1]
        if left:
            row.values.update(EOSSTT="DISCONTINUED", EOSDT=left[0].occurred_on,
                              DCSREAS="WITHDRAWAL BY SUBJECT")
            for variable in ("EOSSTT", "EOSDT", "DCSREAS"):
                row.trace(variable, subject.sources("withdrawal", left))
        else:
            row.values["EOSSTT"] = "ONGOING"
    alive_on, sources = last_alive(subject)
    row.values["LSTALVDT"] = alive_on
    row.trace("LSTALVDT", sources)


def last_alive(subject: Subject) -> tuple[date, list[Source]]:
    """docs/rules.md section 15: the latest clinical date of any effective entry other than
    the death, capped at the cutoff (a death after the cutoff shows the participant alive at
    it); with the entries that show it."""
    participant, cutoff = subject.participant, subject.cutoff
    known = last_known_alive_on(participant)
    assert known is not None  # every participant has an enrolment
    died_on = participant.died_on
    if known >= cutoff or died_on is None or died_on <= cutoff:
        latest = [e for e in participant.effective_entries()
                  if e.type != "ParticipantDied" and e.occurred_on == known]
        role = "alive after the cutoff" if known > cutoff else "last known alive"
        return min(known, cutoff), subject.sources(role, latest)
    return cutoff, subject.sources("death after the cutoff",
                                   subject.entries("ParticipantDied")[:1])
