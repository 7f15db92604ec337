"""The SDTM export: the ledger at a clinical cutoff as SDTMIG 3.4 datasets in SAS transport
(XPT v5) files, with their Define-XML 2.1 (docs/exports/sdtm.md).

`write_sdtm` reads each participant in scope as the ledger recorded them by `scope.as_of` (when
None, by the latest event's recorded time as the export starts), keeps what is dated on or
before `scope.cutoff` (corrections applied, voided entries left out), maps the casebook's values to the domains (services/exports/sdtm_*.py), numbers each
domain's records per subject (--SEQ), moves supplemental qualifiers and any text past XPT's
200 bytes to SUPP-- datasets, and writes one `<domain>.xpt` per domain that has records and a
define.xml describing exactly those files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from infra.ledger.chain import format_recorded_at, parse_recorded_at
from services.application import TrialLedger
from services.exports import sdtm_terms as terms
from services.exports.define_xml import DatasetDefinition, write_define
from services.exports.scope import ExportScope
from services.exports.sdtm_ae import AE
from services.exports.sdtm_model import SDTMIG, STUDY, Domain, Qualifier, Subject
from services.exports.sdtm_subject import DM, DS, SS
from services.exports.sdtm_treatment import CM, EX, PR
from services.exports.sdtm_tumour import RS, TR, TU
from services.exports.study import STUDY_ID
from services.exports.xpt import MAX_TEXT_BYTES, Column, split_text, write_xpt

DOMAINS: tuple[Domain, ...] = (DM, CM, EX, PR, AE, DS, SS, TU, TR, RS)
"""Every domain the export writes, in define.xml order (SUPP-- datasets follow)."""
TEXT_KINDS = frozenset({"text", "date", "partialDate"})
SUPP_STRUCTURE = "One record per IDVAR, IDVARVAL, and QNAM value per subject"
SUPP_KEYS = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM")
SUPP_COLUMNS = (
    Column("STUDYID", "Study Identifier", origin="Assigned", mandatory=True),
    Column("RDOMAIN", "Related Domain Abbreviation", origin="Assigned", mandatory=True),
    Column("USUBJID", "Unique Subject Identifier", origin="Derived", mandatory=True,
           method="STUDYID and the ledger's participant id, joined by a hyphen."),
    Column("IDVAR", "Identifying Variable", origin="Assigned"),
    Column("IDVARVAL", "Identifying Variable Value", origin="Derived",
           method="The --SEQ of the parent record."),
    Column("QNAM", "Qualifier Variable Name", origin="Assigned", mandatory=True),
    Column("QLABEL", "Qualifier Variable Label", origin="Assigned", mandatory=True),
    Column("QVAL", "Data Value", mandatory=True),
    Column("QORIG", "Origin", origin="Assigned", codelist=terms.QUALIFIER_ORIGIN,
           mandatory=True),
    Column("QEVAL", "Evaluator", origin="Assigned"),
)


@dataclass(frozen=True)
class Table:
    """One dataset to write: its name, label, define metadata and rows."""

    name: str
    label: str
    class_name: str
    structure: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    domain: str


def write_sdtm(ledger: TrialLedger, directory: Path, *, scope: ExportScope) -> list[Path]:
    """Write the SDTM datasets and define.xml of `scope` into `directory`; returns the paths
    written (the datasets, then define.xml). A domain without records is not written."""
    if scope.cutoff is None:
        raise ValueError("an SDTM export needs a clinical cutoff date (scope.cutoff)")
    moment = recorded_moment(ledger, scope)
    subjects = list(subjects_in_scope(ledger, scope, moment))
    tables = sdtm_tables(subjects)
    directory.mkdir(parents=True, exist_ok=True)
    defined = []
    for table in tables:
        if not table.rows:
            continue
        written = write_xpt(directory / f"{table.name.lower()}.xpt", table.name, table.label,
                            table.columns, table.rows, created_at=scope.created_at)
        defined.append(DatasetDefinition(written, table.class_name, table.structure,
                                         table.keys, table.domain,
                                         repeating=table.name != DM.code))
    define = write_define(directory / "define.xml", defined, study=STUDY, standard=SDTMIG,
                          created_at=scope.created_at,
                          as_of=None if moment is None else parse_recorded_at(moment))
    return [dataset.written.path for dataset in defined] + [define]


def recorded_moment(ledger: TrialLedger, scope: ExportScope) -> str | None:
    """The recorded time every read of the export is made at, as the ledger stores times:
    `scope.as_of`, else the latest event's, so that a write arriving while the files are made
    changes none of them (None: nothing recorded yet)."""
    if scope.as_of is not None:
        return format_recorded_at(scope.as_of)
    head = ledger.store.head()
    return None if head is None else head.recorded_at


def subjects_in_scope(ledger: TrialLedger, scope: ExportScope, as_of: str | None
                      ) -> Iterator[Subject]:
    """The participants the scope covers, as recorded by `as_of`, enrolled on or before the
    cutoff, in participant id order."""
    assert scope.cutoff is not None
    for participant_id, _ in ledger.participant_ids(as_of=as_of):
        if scope.participant_id is not None and participant_id != scope.participant_id:
            continue
        participant = ledger.participant(participant_id, as_of=as_of)
        if not scope.covers(participant_id, participant.site_id):
            continue
        subject = Subject.at(participant, scope.cutoff)
        if subject.enrollment.occurred_on <= scope.cutoff:
            yield subject


def sdtm_tables(subjects: Sequence[Subject]) -> list[Table]:
    """Every domain's rows (numbered, long text continued in SUPP--), then the SUPP--
    datasets."""
    main: list[Table] = []
    supplements: list[Table] = []
    for domain in DOMAINS:
        rows: list[dict[str, Any]] = []
        supp: list[dict[str, Any]] = []
        for subject in subjects:
            for number, record in enumerate(domain.build(subject), start=1):
                values = dict(record.values)
                if domain.seq is not None:
                    values[domain.seq] = number
                supp += _supplement(domain, values, record.qualifiers)
                rows.append(values)
        main.append(Table(domain.code, domain.label, domain.class_name, domain.structure,
                          domain.keys, domain.columns, rows, domain.code))
        name = f"SUPP{domain.code}"
        supplements.append(Table(name, f"Supplemental Qualifiers for {domain.code}",
                                 "RELATIONSHIP", SUPP_STRUCTURE, SUPP_KEYS, SUPP_COLUMNS, supp,
                                 name))
    return main + supplements


def _supplement(domain: Domain, values: dict[str, Any], qualifiers: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """Cut `values`' text in place to what fits in 200 bytes once escaped (`split_text`);
    return the SUPP-- rows of its qualifiers and of the rest of any text cut (QNAM the
    variable's name with 1, 2, ... appended). `write_xpt` escapes every piece."""
    declared = {q.name: q for q in domain.qualifiers}
    unknown = set(qualifiers) - set(declared)
    if unknown:
        raise ValueError(f"{domain.code}: undeclared qualifiers {sorted(unknown)}")
    pieces: list[tuple[Qualifier, str]] = []
    for column in domain.columns:
        value = values.get(column.name)
        if value is None or column.kind not in TEXT_KINDS:
            continue
        first, *rest = split_text(_text(value), MAX_TEXT_BYTES)
        values[column.name] = first
        pieces += _continued(Qualifier(column.name, column.label, column.origin), rest)
    for name, value in qualifiers.items():
        if value is not None:
            first, *rest = split_text(_text(value), MAX_TEXT_BYTES)
            pieces += [(declared[name], first), *_continued(declared[name], rest)]
    seq = domain.seq
    return [{"STUDYID": STUDY_ID, "RDOMAIN": domain.code, "USUBJID": values["USUBJID"],
             "IDVAR": seq, "IDVARVAL": None if seq is None else str(values[seq]),
             "QNAM": qualifier.name, "QLABEL": qualifier.label, "QVAL": text,
             "QORIG": "Derived" if qualifier.origin == "Derived" else "Collected"}
            for qualifier, text in pieces]


def _text(value: Any) -> str:
    """A text variable's value as stored text (a date as ISO 8601); `write_xpt` escapes it."""
    return value.isoformat() if isinstance(value, date) else str(value)


def _continued(qualifier: Qualifier, rest: list[str]) -> list[tuple[Qualifier, str]]:
    """The 2nd, 3rd, ... 200-byte pieces of a text, each under its own QNAM and QLABEL."""
    continued = []
    for number, text in enumerate(rest, start=1):
        suffix = str(number)
        name = qualifier.name[:8 - len(suffix)] + suffix
        label = qualifier.label[:40 - len(suffix) - 1] + " " + suffix
        continued.append((Qualifier(name, label, qualifier.origin), text))
    return continued
