"""The ADaM export: ADSL, ADRS and ADTTE at a clinical cutoff, and ADTRACE, which ties every
derived row to the ledger events it was derived from (docs/exports/adam.md).

The analysis values are the endpoints read's own (`services.study_outcomes`: the participants
and their summaries `/api/v1/endpoints` counts); the time-point responses are those the
summaries fold (`domain.participant_outcome`), and the export stops if the two disagree. Each
row carries a short key, TRACEID; ADTRACE holds, per key, the traced variable and every source
event's ledger position, event id, type and clinical date.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from infra.ledger.chain import format_recorded_at
from services.application import TrialLedger
from services.exports.adam_adrs import ADRS, adrs_rows
from services.exports.adam_adsl import ADSL, adsl_row
from services.exports.adam_adtte import ADTTE, adtte_rows
from services.exports.adam_sources import Derived, Subject, Value, subject
from services.exports.scope import ExportScope
from services.exports.study import STUDY_ID, usubjid
from services.exports.xpt import Column, Dataset, write_xpt
from services.study_outcomes import ParticipantOutcomes, study_outcomes

ADTRACE = Dataset("ADTRACE", "Traceability to Ledger Events", (
    Column("TRACEID", "Trace Key of the Derived Row"),
    Column("DATASET", "Dataset of the Derived Row"),
    Column("STUDYID", "Study Identifier"),
    Column("USUBJID", "Unique Subject Identifier"),
    Column("PARAMCD", "Parameter Code"),
    Column("PARCAT1", "Response Criteria"),
    Column("ASEQ", "Analysis Sequence Number", "integer"),
    Column("TRVAR", "Derived Variable Traced"),
    Column("SRCROLE", "Role of the Source Event"),
    Column("SRCPOS", "Ledger Position of the Source Event", "integer"),
    Column("SRCEVID", "Event Id of the Source Event"),
    Column("SRCTYPE", "Event Type of the Source Event"),
    Column("SRCDT", "Clinical Date of the Source Event", "sasDate"),
    Column("SRCVER", "Stream Version of the Source Event", "integer"),
    Column("SRCRECTM", "Recorded Time of the Source Event"),
))


def write_adam(ledger: TrialLedger, engine: Engine, directory: Path, *,
               scope: ExportScope) -> list[Path]:
    """Write adsl.xpt, adrs.xpt, adtte.xpt and adtrace.xpt into `directory` (made if missing)
    for the participants `scope` covers, enrolled by `scope.cutoff`, as recorded at
    `scope.as_of` (None: everything recorded when the export starts); return their paths."""
    if scope.cutoff is None:
        raise ValueError("an ADaM export is derived at a clinical cutoff: give scope.cutoff")
    cutoff = scope.cutoff
    as_of = recorded_moment(ledger, scope)
    subjects = [subject(ledger, outcome, as_of, cutoff, subject_keys(outcome))
                for outcome in study_outcomes(ledger, engine, scope.sites, as_of)
                if scope.covers(outcome.participant_id, outcome.site_id)
                and outcome.enrolled_on <= cutoff]
    datasets = derive(subjects)
    directory.mkdir(parents=True, exist_ok=True)
    tables: list[tuple[Dataset, list[dict[str, Value]]]] = [
        (dataset, [row.values for row in rows]) for dataset, rows in datasets]
    tables.append((ADTRACE, trace_rows(datasets)))
    return [write_xpt(directory / f"{dataset.name.lower()}.xpt", dataset.name, dataset.label,
                      dataset.columns, rows, created_at=scope.created_at).path
            for dataset, rows in tables]


def recorded_moment(ledger: TrialLedger, scope: ExportScope) -> str | None:
    """The recorded time every read of the export is made at, as the ledger stores times:
    `scope.as_of`, else the latest event's, so that a write arriving meanwhile changes no part
    of the export (None: nothing recorded yet)."""
    if scope.as_of is not None:
        return format_recorded_at(scope.as_of)
    head = ledger.store.head()
    return None if head is None else head.recorded_at


def subject_keys(outcome: ParticipantOutcomes) -> dict[str, Value]:
    """STUDYID, USUBJID, SUBJID and SITEID of a participant's rows (USUBJID as in SDTM)."""
    return {"STUDYID": STUDY_ID, "USUBJID": usubjid(outcome.participant_id),
            "SUBJID": outcome.participant_id, "SITEID": outcome.site_id}


def derive(subjects: list[Subject]) -> list[tuple[Dataset, list[Derived]]]:
    """Every dataset's rows, participant by participant, each row given its TRACEID."""
    adsl: list[Derived] = []
    adrs: list[Derived] = []
    adtte: list[Derived] = []
    for one in subjects:
        row = adsl_row(one)
        flags = {"ITTFL": str(row.values["ITTFL"]), "SAFFL": str(row.values["SAFFL"])}
        responses = adrs_rows(one, flags)
        adsl.append(row)
        adrs.extend(responses.rows)
        adtte.extend(adtte_rows(one, responses, flags))
    datasets = [(ADSL, adsl), (ADRS, adrs), (ADTTE, adtte)]
    for dataset, rows in datasets:
        for number, row in enumerate(rows, start=1):
            row.values["TRACEID"] = f"{dataset.name}-{number:06d}"
    return datasets


def trace_rows(datasets: list[tuple[Dataset, list[Derived]]]) -> list[dict[str, Value]]:
    """One ADTRACE row per (derived row, traced variable, source event, role)."""
    found: list[dict[str, Value]] = []
    for dataset, rows in datasets:
        for row in rows:
            seen: set[tuple[str, str, str]] = set()
            for variable, source in row.traces:
                key = (variable, source.event_id, source.role)
                if key in seen:
                    continue
                seen.add(key)
                found.append({
                    "TRACEID": row.values["TRACEID"], "DATASET": dataset.name,
                    "STUDYID": row.values["STUDYID"], "USUBJID": row.values["USUBJID"],
                    "PARAMCD": row.values.get("PARAMCD"), "PARCAT1": row.values.get("PARCAT1"),
                    "ASEQ": row.values.get("ASEQ"), "TRVAR": variable, "SRCROLE": source.role,
                    "SRCPOS": source.position, "SRCEVID": source.event_id,
                    "SRCTYPE": source.type, "SRCDT": source.on, "SRCVER": source.version,
                    "SRCRECTM": source.recorded_at,
                })
    return found
