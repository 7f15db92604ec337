"""The event catalogue: every trial action an EDC may post, with its validated `data` schema.

Each entry names the payload model, its schema version and whether it is a clinical fact
(dated on the participant's timeline) or an administrative one (a correction or a void).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.response.reads import Read

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
SiteId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$")]
AeId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
EventId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                                   r"[0-9a-f]{4}-[0-9a-f]{12}$")]
Milligrams = Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
Drug = Literal["camrelizumab", "apatinib"]
Attribution = Literal["camrelizumab", "apatinib", "TACE"]
Criterion = Literal["RECIST 1.1", "mRECIST"]


class Payload(BaseModel):
    """Strict: an unknown field is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ParticipantEnrolledData(Payload):
    site_id: SiteId
    consented_on: date
    sex: Literal["F", "M"]
    birth_year: int = Field(ge=1900, le=2100)
    ecog: int = Field(ge=0, le=2)
    child_pugh: Literal["A5", "A6", "B7"]
    bclc: Literal["A", "B", "C"]
    pvtt: bool
    extrahepatic_spread: bool
    etiology: Literal["HBV", "HCV", "alcohol", "NAFLD", "other"]
    afp_ng_ml: NonNegative


class DoseAdministeredData(Payload):
    drug: Drug
    dose_mg: Milligrams
    route: Literal["IV", "oral"]
    cycle: int | None = Field(default=None, ge=1, le=1000)
    end_on: date | None = None

    @model_validator(mode="after")
    def _route_matches_drug(self) -> DoseAdministeredData:
        expected = "IV" if self.drug == "camrelizumab" else "oral"
        if self.route != expected:
            raise ValueError(f"{self.drug} is given {expected}, not {self.route}")
        return self


class DoseModifiedData(Payload):
    drug: Drug
    action: Literal["interrupted", "reduced", "resumed", "discontinued"]
    new_dose_mg: Milligrams | None = None
    reason: ShortText
    adverse_event_id: AeId | None = None

    @model_validator(mode="after")
    def _reduction_names_dose(self) -> DoseModifiedData:
        if self.action == "reduced" and self.new_dose_mg is None:
            raise ValueError("a dose reduction needs new_dose_mg")
        return self


class TACEPerformedData(Payload):
    technique: Literal["cTACE", "DEB-TACE"]
    agent: ShortText
    agent_dose_mg: NonNegative
    lipiodol_ml: NonNegative | None = None
    embolic_agent: ShortText | None = None


class TumorAssessedData(Payload):
    modality: Literal["CT", "MRI"]
    baseline: bool
    reader: ShortText
    reads: dict[Criterion, Read] = Field(min_length=1)


class AdverseEventReportedData(Payload):
    ae_id: AeId
    term: ShortText
    grade: int = Field(ge=1, le=5)
    serious: bool
    related_to: list[Attribution] = Field(default_factory=list, max_length=3)
    immune_related: bool = False


class AdverseEventUpdatedData(Payload):
    ae_id: AeId
    grade: int | None = Field(default=None, ge=1, le=5)
    serious: bool | None = None
    related_to: list[Attribution] | None = Field(default=None, max_length=3)

    @model_validator(mode="after")
    def _changes_something(self) -> AdverseEventUpdatedData:
        if self.grade is None and self.serious is None and self.related_to is None:
            raise ValueError("an update needs at least one of grade, serious, related_to")
        return self


class AdverseEventResolvedData(Payload):
    ae_id: AeId
    outcome: Literal["recovered", "recovered_with_sequelae", "not_recovered", "fatal"]


class AnticancerTherapyStartedData(Payload):
    therapy: ShortText
    category: Literal["systemic", "locoregional", "surgery", "radiotherapy"]


class FollowUpContactData(Payload):
    alive: Literal[True]


class ParticipantDiedData(Payload):
    cause: ShortText


class ParticipantWithdrewData(Payload):
    reason: ShortText
    follow_up_allowed: bool


class EntryCorrectedData(Payload):
    corrects: EventId
    data: dict[str, Any]


class EntryVoidedData(Payload):
    voids: EventId


@dataclass(frozen=True)
class EventSpec:
    """What the catalogue knows of one event type."""

    name: str
    payload: type[Payload]
    version: int
    clinical: bool
    summary: str


CATALOGUE: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec("ParticipantEnrolled", ParticipantEnrolledData, 1, True,
                  "Consent given and eligibility confirmed; the first event of a participant."),
        EventSpec("DoseAdministered", DoseAdministeredData, 1, True,
                  "A camrelizumab infusion, or an apatinib daily-dosing period."),
        EventSpec("DoseModified", DoseModifiedData, 1, True,
                  "A study drug interrupted, reduced, resumed or discontinued."),
        EventSpec("TACEPerformed", TACEPerformedData, 1, True,
                  "A transarterial chemoembolisation session."),
        EventSpec("TumorAssessed", TumorAssessedData, 1, True,
                  "A CT/MRI read, per criterion (RECIST 1.1, mRECIST)."),
        EventSpec("AdverseEventReported", AdverseEventReportedData, 1, True,
                  "An adverse event at onset, CTCAE v5 graded."),
        EventSpec("AdverseEventUpdated", AdverseEventUpdatedData, 1, True,
                  "A change in a reported adverse event (the patient changed, not the data)."),
        EventSpec("AdverseEventResolved", AdverseEventResolvedData, 1, True,
                  "A reported adverse event ended, with its outcome."),
        EventSpec("AnticancerTherapyStarted", AnticancerTherapyStartedData, 1, True,
                  "Off-protocol anticancer therapy began."),
        EventSpec("FollowUpContact", FollowUpContactData, 1, True,
                  "The participant was known to be alive on this date."),
        EventSpec("ParticipantDied", ParticipantDiedData, 1, True, "Death, with its cause."),
        EventSpec("ParticipantWithdrew", ParticipantWithdrewData, 1, True,
                  "Consent withdrawn from treatment, with or without follow-up."),
        EventSpec("EntryCorrected", EntryCorrectedData, 1, False,
                  "A data correction of an earlier entry; reason required."),
        EventSpec("EntryVoided", EntryVoidedData, 1, False,
                  "An earlier entry declared void (entered in error); reason required."),
    )
}

ADMINISTRATIVE_TYPES = frozenset(name for name, spec in CATALOGUE.items() if not spec.clinical)
AE_FOLLOW_UP_TYPES = frozenset({"AdverseEventUpdated", "AdverseEventResolved"})
