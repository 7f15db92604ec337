"""AE: one record per adverse event reported on or before the cutoff, as the safety tables see
it then (docs/rules.md section 18, `domain.adverse_events.adverse_event_records`): the worst
grade reported or updated by the cutoff, serious if it was ever serious by then, the latest
attribution. Its resolution, if dated by the cutoff, gives AEOUT and AEENDTC; an event not
resolved by then is ONGOING at the cutoff.

SDTMIG has one AEREL for "the study treatment"; this trial's treatment has three parts, so
AEREL says whether the event was related to any of them and SUPPAE holds the attribution to
each (AERELCAM, AERELAPA, AERELTAC), as SDTMIG advises for several study treatments. AEACN
likewise: the action taken with each drug (from the DoseModified entries naming the event) is
in SUPPAE (AEACNCAM, AEACNAPA), and AEACN is that action, or MULTIPLE when both drugs were
acted on differently.
"""

from __future__ import annotations

from typing import Any

from domain.adverse_events import adverse_event_records
from domain.analysis.safety import AdverseEventRecord
from domain.entries import Entry
from domain.protocol import APATINIB, CAMRELIZUMAB, TACE
from services.exports import sdtm_terms as terms
from services.exports.sdtm_model import (
    IDENTIFIERS,
    Domain,
    Qualifier,
    Record,
    Subject,
    base,
    iso,
    sequence,
    study_day,
    yes_no,
)
from services.exports.xpt import Column

ATTRIBUTIONS = (("AERELCAM", CAMRELIZUMAB), ("AERELAPA", APATINIB), ("AERELTAC", TACE))
ACTION_QUALIFIERS = (("AEACNCAM", CAMRELIZUMAB), ("AEACNAPA", APATINIB))

AE_COLUMNS = (
    *IDENTIFIERS, sequence("AE"),
    Column("AESPID", "Sponsor-Defined Identifier"),
    Column("AETERM", "Reported Term for the Adverse Event", mandatory=True),
    Column("AEDECOD", "Dictionary-Derived Term", origin="Derived", codelist=terms.CTCAE,
           mandatory=True, method="The reported CTCAE v5 term (sites report in CTCAE terms)."),
    Column("AESER", "Serious Event", origin="Derived", codelist=terms.NY,
           method="Y if the report or any update by the cutoff said serious."),
    Column("AEACN", "Action Taken with Study Treatment", origin="Derived",
           codelist=terms.ACTION,
           method="The action of the DoseModified entries naming the event: per drug the "
                  "gravest (withdrawn, interrupted, reduced); MULTIPLE if the drugs differ."),
    Column("AEREL", "Causality", origin="Derived", codelist=terms.RELATED,
           method="RELATED if the latest attribution by the cutoff names camrelizumab, "
                  "apatinib or TACE; else NOT RELATED."),
    Column("AEOUT", "Outcome of Adverse Event", codelist=terms.OUTCOME),
    Column("AETOXGR", "Standard Toxicity Grade", origin="Derived",
           codelist=terms.TOXICITY_GRADE,
           method="The worst CTCAE grade of the report and its updates by the cutoff."),
    Column("AESTDTC", "Start Date/Time of Adverse Event", "date"),
    Column("AEENDTC", "End Date/Time of Adverse Event", "date"),
    study_day("AESTDY", "Start of Adverse Event"),
    study_day("AEENDY", "End of Adverse Event"),
    Column("AEENRTPT", "End Relative to Reference Time Point", origin="Derived",
           codelist=terms.ONGOING, method="ONGOING when not resolved by the cutoff."),
    Column("AEENTPT", "End Reference Time Point", origin="Derived",
           method="The data cutoff date, when AEENRTPT is ONGOING."),
)
AE_QUALIFIERS = (
    Qualifier("AERELCAM", "Relationship to Camrelizumab"),
    Qualifier("AERELAPA", "Relationship to Apatinib"),
    Qualifier("AERELTAC", "Relationship to TACE"),
    Qualifier("AEACNCAM", "Action Taken with Camrelizumab", "Derived"),
    Qualifier("AEACNAPA", "Action Taken with Apatinib", "Derived"),
    Qualifier("AEIMMREL", "Immune-Related Adverse Event"),
)


def adverse_events(subject: Subject) -> list[Record]:
    records = []
    for ae_id, report, state in _events(subject):
        resolved = _resolution(subject, ae_id)
        outcome = resolved.data["outcome"] if resolved is not None else "not_recovered"
        ended = resolved is not None and outcome != "not_recovered"
        end_on = resolved.occurred_on if ended and resolved is not None else None
        actions = _actions(subject, ae_id)
        values: dict[str, Any] = {
            **base(subject, "AE"),
            "AESPID": ae_id,
            "AETERM": report.data["term"],
            "AEDECOD": state.term,
            "AESER": yes_no(state.serious),
            "AEACN": _overall_action(actions),
            "AEREL": "RELATED" if state.related_to else "NOT RELATED",
            "AEOUT": terms.OUTCOMES[outcome],
            "AETOXGR": str(state.worst_grade),
            "AESTDTC": iso(state.onset_on),
            "AEENDTC": iso(end_on),
            "AESTDY": subject.day(state.onset_on),
            "AEENDY": subject.day(end_on),
            "AEENRTPT": None if resolved is not None else "ONGOING",
            "AEENTPT": None if resolved is not None else iso(subject.cutoff),
        }
        qualifiers: dict[str, Any] = {
            name: "RELATED" if part in state.related_to else "NOT RELATED"
            for name, part in ATTRIBUTIONS}
        qualifiers.update({name: actions.get(drug) for name, drug in ACTION_QUALIFIERS})
        qualifiers["AEIMMREL"] = yes_no(bool(report.data.get("immune_related")))
        records.append(Record(values, qualifiers))
    return records


def _events(subject: Subject) -> list[tuple[str, Entry, AdverseEventRecord]]:
    """Each AE id with its report and its state at the cutoff. `adverse_event_records` gives
    the AEs in the order of their first report (by date, then recording), one per AE id."""
    reports = subject.entries("AdverseEventReported")
    first: dict[str, Entry] = {}
    latest: dict[str, Entry] = {}
    for report in reports:
        first.setdefault(report.data["ae_id"], report)
        latest[report.data["ae_id"]] = report
    states = adverse_event_records(subject.shown, subject.cutoff)
    return [(ae_id, latest[ae_id], state)
            for ae_id, state in zip(first, states, strict=True)]


def _resolution(subject: Subject, ae_id: str) -> Entry | None:
    found = [e for e in subject.entries("AdverseEventResolved") if e.data["ae_id"] == ae_id]
    return found[-1] if found else None


def _actions(subject: Subject, ae_id: str) -> dict[str, str]:
    """Per drug, the gravest action of the DoseModified entries naming `ae_id`."""
    by_drug: dict[str, set[str]] = {}
    for change in subject.entries("DoseModified"):
        if change.data.get("adverse_event_id") == ae_id:
            action = terms.ACTIONS[change.data["action"]]
            by_drug.setdefault(change.data["drug"], set()).add(action)
    return {drug: next(a for a in terms.ACTION_RANK if a in actions)
            for drug, actions in by_drug.items()}


def _overall_action(actions: dict[str, str]) -> str | None:
    distinct = set(actions.values())
    if not distinct:
        return None
    return distinct.pop() if len(distinct) == 1 else "MULTIPLE"


AE = Domain("AE", "Adverse Events", "EVENTS", "One record per adverse event per subject",
            AE_COLUMNS, adverse_events, AE_QUALIFIERS)
