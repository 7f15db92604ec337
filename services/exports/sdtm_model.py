"""What every SDTM domain module shares: the study's identity, one participant as the export
sees them at the cutoff (`Subject`), a domain's definition (`Domain`) and its records.

A `Subject` is read once per participant and holds the casebook's own derivations at the
cutoff: the effective entries dated on or before it (corrections applied, voided entries left
out: `EntryIndex`), and `participant_outcome` with the casebook's views of it, the very values
`GET /participants/{id}?cutoff=D` shows. The domain modules only map those to SDTM variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.casebook import last_known_alive_on, treatment_start_on
from domain.entries import Entry
from domain.participant import Participant
from domain.participant_outcome import ParticipantOutcome, participant_outcome
from domain.protocol import TRIAL_TITLE
from domain.values import DECIMALS
from services.casebook_outcomes import EntryIndex, outcome_views
from services.exports.define_xml import Standard, StudyDescription
from services.exports.study import STUDY_ID, usubjid
from services.exports.xpt import Column, Origin

STUDY = StudyDescription(oid=f"ST.{STUDY_ID}", name=STUDY_ID, description=TRIAL_TITLE,
                         protocol=STUDY_ID)
SDTMIG = Standard.of("SDTMIG", "3.4")


@dataclass(frozen=True)
class Subject:
    """One participant in an SDTM export: their entries and derived outcomes at the cutoff."""

    participant: Participant
    cutoff: date
    shown: EntryIndex
    """Effective entries dated on or before the cutoff."""
    outcome: ParticipantOutcome
    """`participant_outcome(all effective entries, cutoff)`, as the casebook at D derives it."""
    views: dict[str, Any]
    """The casebook's `assessments` and `best_overall_response` at the cutoff."""

    @classmethod
    def at(cls, participant: Participant, cutoff: date) -> Subject:
        everything = EntryIndex(participant)
        shown = EntryIndex(participant, until=cutoff)
        outcome = participant_outcome(everything, cutoff)
        return cls(participant, cutoff, shown, outcome, outcome_views(outcome, shown))

    @property
    def subject_id(self) -> str:
        return self.participant.id

    @property
    def usubjid(self) -> str:
        return usubjid(self.participant.id)

    @property
    def enrollment(self) -> Entry:
        return self.shown.enrollment

    @property
    def treatment_start(self) -> date | None:
        """RFSTDTC: the first dose or TACE on or before the cutoff."""
        return treatment_start_on(self.shown)

    @property
    def last_known_alive(self) -> date | None:
        return last_known_alive_on(self.shown)

    def entries(self, *types: str) -> list[Entry]:
        """Effective entries of these types dated by the cutoff, by date (then recording)."""
        return sorted(self.shown.entries_of(*types), key=lambda e: (e.occurred_on, e.version))

    def dose_end(self, dose: Entry) -> date:
        """The last day of a dose known at the cutoff: its dosing period's end_on, or the day
        of an infusion; a period still running past the cutoff ends at the cutoff."""
        end_on = dose.data.get("end_on")
        end = date.fromisoformat(end_on) if end_on else dose.occurred_on
        return min(end, self.cutoff)

    def day(self, on: date | None) -> int | None:
        """SDTM study day of `on` relative to RFSTDTC: day 1 is the treatment start, the day
        before it is day -1 (there is no day 0)."""
        start = self.treatment_start
        if on is None or start is None:
            return None
        days = (on - start).days
        return days + 1 if days >= 0 else days


@dataclass(frozen=True)
class Qualifier:
    """A supplemental qualifier (SUPP--) a domain's records may carry."""

    name: str
    label: str
    origin: Origin = "Collected"


@dataclass
class Record:
    """One row of a domain, and its supplemental qualifiers by QNAM."""

    values: dict[str, Any]
    qualifiers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Domain:
    """An SDTM domain: its dataset metadata, its variables and how its records are made."""

    code: str
    label: str
    class_name: str
    structure: str
    columns: tuple[Column, ...]
    build: Callable[[Subject], list[Record]]
    qualifiers: tuple[Qualifier, ...] = ()

    @property
    def seq(self) -> str | None:
        """The --SEQ variable, when the domain has one."""
        name = f"{self.code}SEQ"
        return name if any(c.name == name for c in self.columns) else None

    @property
    def keys(self) -> tuple[str, ...]:
        return ("STUDYID", "USUBJID", self.seq) if self.seq else ("STUDYID", "USUBJID")


IDENTIFIERS = (
    Column("STUDYID", "Study Identifier", origin="Assigned", mandatory=True),
    Column("DOMAIN", "Domain Abbreviation", origin="Assigned", mandatory=True),
    Column("USUBJID", "Unique Subject Identifier", origin="Derived", mandatory=True,
           method="STUDYID and the ledger's participant id, joined by a hyphen."),
)
"""STUDYID, DOMAIN and USUBJID: the first variables of every domain."""


def sequence(code: str) -> Column:
    """The domain's --SEQ (numbered by services/exports/sdtm.py as the records are written)."""
    return Column(f"{code}SEQ", "Sequence Number", kind="integer", origin="Derived",
                  mandatory=True, method="1, 2, ... per subject in the order of the records' "
                                         "dates (same date: the order they were recorded).")


def study_day(name: str, what: str) -> Column:
    """An --DY, --STDY or --ENDY variable: the study day of a date (`Subject.day`)."""
    return Column(name, f"Study Day of {what}", kind="integer", origin="Derived",
                  method="Date minus RFSTDTC in days, plus 1 on or after RFSTDTC (no day 0).")


def base(subject: Subject, code: str) -> dict[str, Any]:
    """The identifier values of a record of domain `code` for `subject`."""
    return {"STUDYID": STUDY_ID, "DOMAIN": code, "USUBJID": subject.usubjid}


def yes_no(value: bool) -> str:
    return "Y" if value else "N"


def iso(on: date | None) -> str | None:
    return None if on is None else on.isoformat()


def number_text(value: float) -> str:
    """A measurement as text, as it was entered: to the ledger's resolution of DECIMALS places,
    without trailing zeros (42.3, 5, 12345.678; never 4.2e+01)."""
    return f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
