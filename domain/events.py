"""The event catalogue: every trial action an EDC may post, with its validated `data` schema.

Each entry names the payload model, its schema version and whether it is a clinical fact
(dated on the participant's timeline) or an administrative one (a correction or a void).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import NoneType, UnionType
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    Self,
    TypeAlias,
    Union,
    get_args,
    get_origin,
)

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.errors import FieldProblem
from domain.protocol import DOSE_RANGE_MG, STUDY_START, Criterion
from domain.response.reads import Read, stored_read
from domain.text import FREE_TEXT, TEXT
from domain.values import (
    STRICT_LITERAL,
    UNIQUE,
    Count,
    Flag,
    IsoDate,
    PastDate,
    measure,
    today,
)

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                      TEXT]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                     FREE_TEXT]
SiteId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$")]
AeId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), TEXT]
EventId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                                   r"[0-9a-f]{4}-[0-9a-f]{12}$")]
if TYPE_CHECKING:  # measure() builds each constrained float at run time
    Milligrams: TypeAlias = float
    AgentDoseMg: TypeAlias = float
    LipiodolMl: TypeAlias = float
    AfpNgMl: TypeAlias = float
else:
    Milligrams = measure(0, max(high for _, high in DOSE_RANGE_MG.values()), above_low=True)
    """A study-drug dose; each drug's own plausible range (domain.protocol.DOSE_RANGE_MG) is
    checked by the payload that names the drug."""
    AgentDoseMg = measure(0, 1000)
    """A TACE chemotherapy agent's dose (epirubicin, doxorubicin, ... : tens of mg)."""
    LipiodolMl = measure(0, 100)
    """Lipiodol volume in one TACE session (guidelines cap it near 20 ml)."""
    AfpNgMl = measure(0, 10_000_000)
    """Serum alpha-fetoprotein."""
BirthYear = Annotated[Count, Field(ge=1900)]
Drug = Literal["camrelizumab", "apatinib"]
Attribution = Literal["camrelizumab", "apatinib", "TACE"]


def _dose_in_range(value: float | None, info: ValidationInfo) -> float | None:
    """The dose is plausible for the drug it names (the drug is validated first)."""
    drug = info.data.get("drug")
    if value is None or drug not in DOSE_RANGE_MG:
        return value
    low, high = DOSE_RANGE_MG[drug]
    if not low <= value <= high:
        raise ValueError(f"a {drug} dose should be between {low} and {high} mg")
    return value


def _is_date(annotation: Any) -> bool:
    """`date`, a checked date (`Annotated[date, ...]`) or either `| None`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_date(get_args(annotation)[0])
    if origin in (Union, UnionType):
        others = [arg for arg in get_args(annotation) if arg is not NoneType]
        return len(others) == 1 and _is_date(others[0])
    return annotation is date


class Payload(BaseModel):
    """Strict: an unknown field is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _dates: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._dates = frozenset(name for name, info in cls.model_fields.items()
                               if _is_date(info.annotation))

    @classmethod
    def stored(cls, data: Mapping[str, Any]) -> Self:
        """The payload as recorded in the log, typed for the rules that read it but rebuilt
        without today's input checks: it was checked when it was entered, under the rules of
        that release, and a stricter release must never make an older event unreadable."""
        return cls.model_construct(**{name: cls._stored_value(name, value)
                                      for name, value in data.items()})

    @classmethod
    def _stored_value(cls, name: str, value: Any) -> Any:
        if name in cls._dates and isinstance(value, str):
            return date.fromisoformat(value)
        return value

    def date_problems(self, occurred_on: date) -> list[FieldProblem]:
        """What is wrong with this payload's own dates, given the entry's clinical date
        (locations relative to the payload, e.g. "end_on")."""
        return []


class ParticipantEnrolledData(Payload):
    site_id: SiteId
    consented_on: PastDate = Field(description=f"On or after the study's start ({STUDY_START}),"
                                               " not in the future.")
    sex: Literal["F", "M"]
    birth_year: BirthYear = Field(description="From 1900 to the current year.")
    ecog: Count = Field(ge=0, le=2)
    child_pugh: Literal["A5", "A6", "B7"]
    bclc: Literal["A", "B", "C"]
    pvtt: Flag
    extrahepatic_spread: Flag
    etiology: Literal["HBV", "HCV", "alcohol", "NAFLD", "other"]
    afp_ng_ml: AfpNgMl

    @field_validator("consented_on")
    @classmethod
    def _after_study_start(cls, value: date) -> date:
        if value < STUDY_START:
            raise ValueError(f"consent cannot precede the study's start ({STUDY_START})")
        return value

    @field_validator("birth_year")
    @classmethod
    def _not_after_this_year(cls, value: int) -> int:
        this_year = today().year
        if value > this_year:
            raise ValueError(f"the birth year cannot be after the current year ({this_year})")
        return value


class DoseAdministeredData(Payload):
    drug: Drug
    dose_mg: Milligrams
    route: Literal["IV", "oral"]
    cycle: Count | None = Field(default=None, ge=1, le=1000)
    end_on: PastDate | None = Field(default=None, description="The last day of a dosing "
                                    "period: on or after occurred_on, not in the future.")

    _dose_range = field_validator("dose_mg")(_dose_in_range)

    def date_problems(self, occurred_on: date) -> list[FieldProblem]:
        if self.end_on is not None and self.end_on < occurred_on:
            return [FieldProblem("end_on", f"the dosing period cannot end ({self.end_on}) "
                                           f"before it starts (occurred_on {occurred_on})")]
        return []

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

    _dose_range = field_validator("new_dose_mg")(_dose_in_range)

    @model_validator(mode="after")
    def _reduction_names_dose(self) -> DoseModifiedData:
        if self.action == "reduced" and self.new_dose_mg is None:
            raise ValueError("a dose reduction needs new_dose_mg")
        return self


class TACEPerformedData(Payload):
    technique: Literal["cTACE", "DEB-TACE"]
    agent: ShortText
    agent_dose_mg: AgentDoseMg
    lipiodol_ml: LipiodolMl | None = None
    embolic_agent: ShortText | None = None


class TumorAssessedData(Payload):
    modality: Literal["CT", "MRI"]
    baseline: Flag
    reader: ShortText
    reads: dict[Criterion, Read] = Field(min_length=1)

    @classmethod
    def _stored_value(cls, name: str, value: Any) -> Any:
        if name == "reads":
            return {criterion: stored_read(raw) for criterion, raw in value.items()}
        return super()._stored_value(name, value)


class AdverseEventPayload(Payload):
    """What every entry about one adverse event names first: its id."""

    ae_id: AeId


class AdverseEventReportedData(AdverseEventPayload):
    term: ShortText
    grade: Count = Field(ge=1, le=5)
    serious: Flag
    related_to: Annotated[list[Attribution], UNIQUE] = Field(default_factory=list, max_length=3)
    immune_related: Flag = False


class AdverseEventUpdatedData(AdverseEventPayload):
    grade: Count | None = Field(default=None, ge=1, le=5)
    serious: Flag | None = None
    related_to: Annotated[list[Attribution], UNIQUE] | None = Field(default=None, max_length=3)

    @model_validator(mode="after")
    def _changes_something(self) -> AdverseEventUpdatedData:
        if self.grade is None and self.serious is None and self.related_to is None:
            raise ValueError("an update needs at least one of grade, serious, related_to")
        return self


class AdverseEventResolvedData(AdverseEventPayload):
    outcome: Literal["recovered", "recovered_with_sequelae", "not_recovered", "fatal"]


class AnticancerTherapyStartedData(Payload):
    therapy: ShortText
    category: Literal["systemic", "locoregional", "surgery", "radiotherapy"]


class FollowUpContactData(Payload):
    alive: Annotated[Literal[True], STRICT_LITERAL]


class ParticipantDiedData(Payload):
    cause: ShortText


class ParticipantWithdrewData(Payload):
    reason: ShortText
    follow_up_allowed: Flag


class EntryCorrectedData(Payload):
    """A correction names the entry it corrects and gives that entry's data whole.

    It has two dates: the submission's own `occurred_on` is the day the correction is made,
    and `data.occurred_on`, only when given, is a new clinical date for the corrected entry."""

    corrects: EventId = Field(description="The event_id of the entry being corrected.")
    data: dict[str, Any] = Field(description=(
        "The corrected entry's data, whole: it replaces the original's data entirely, so send "
        "every field, changed or not. It is checked against that event type's schema."))
    occurred_on: IsoDate | None = Field(default=None, description=(
        "A new clinical date for the corrected entry. Omit it to keep the original's clinical "
        "date: the correction's own top-level occurred_on is the date the correction is made "
        "and never moves the entry it corrects."))


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
        EventSpec("EntryCorrected", EntryCorrectedData, 2, False,
                  "A data correction of an earlier entry; reason required."),
        EventSpec("EntryVoided", EntryVoidedData, 1, False,
                  "An earlier entry declared void (entered in error); reason required."),
    )
}

ADMINISTRATIVE_TYPES = frozenset(name for name, spec in CATALOGUE.items() if not spec.clinical)
AE_FOLLOW_UP_TYPES = frozenset({"AdverseEventUpdated", "AdverseEventResolved"})


def stored_payload(event_type: str, data: Mapping[str, Any]) -> Payload:
    """A recorded entry's data as its type's payload model (`Payload.stored`)."""
    return CATALOGUE[event_type].payload.stored(data)
