"""Response models of one participant's reads: the casebook, the event stream, signatures.

Every model keeps fields it does not name (`extra="allow"`): an entry view carries its event's
`data` fields, and a field added later reaches clients instead of being dropped."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RecordedAt = str
"""RFC 3339 in UTC with `Z` and microseconds, e.g. 2026-11-30T18:05:59.035000Z."""


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class SignatureOut(Answer):
    """An electronic signature as Part 11 §11.50 asks it to be shown."""

    signature_id: str
    participant_id: str
    signer: str
    full_name: str
    meaning: str
    signed_at: RecordedAt
    covers_version: int
    covers_hash: str = Field(description="SHA-256 chain hash of the entry the signature covers.")
    status: Literal["valid", "invalidated"]
    invalidated_by: str | None = Field(description="The event that changed what was signed.")
    version: int


class EntryView(Answer):
    """One effective entry: its event id, clinical date and the fields of its `data`."""

    event_id: str
    occurred_on: date
    corrected_by: list[str] = Field(default_factory=list,
                                    description="Present when corrected: the corrections.")


class EnrollmentView(Answer):
    """The enrolment's `data` fields, with the enrolment date."""

    enrolled_on: date
    site_id: str


class AdverseEventView(EntryView):
    ae_id: str
    term: str
    grade: int = Field(description="The current CTCAE grade.")
    serious: bool
    onset_on: date
    worst_grade: int
    resolved_on: date | None
    outcome: str | None


class AssessmentRow(Answer):
    """One scan under one criterion and how it was used."""

    occurred_on: date
    criterion: str
    event_id: str
    role: Literal["baseline", "follow_up", "not_used"]
    sum_mm: float | None
    nadir_mm: float | None
    response: str | None
    target: str | None
    non_target: str | None
    new_lesion: bool | None
    backdated: bool | None


class BestResponseView(Answer):
    confirmed: Literal["CR", "PR", "SD", "PD", "NE"]
    unconfirmed: Literal["CR", "PR", "SD", "PD", "NE"]
    evaluable: bool
    response_start_on: date | None
    first_pd_on: date | None


class TimeView(Answer):
    """`T`: days from treatment start, whether the event happened, else why censored."""

    days: int
    event: bool
    censor_reason: str | None


class TimesToEvent(Answer):
    os: TimeView | None
    pfs: dict[str, TimeView | None] = Field(description="Per criterion.")
    dor: dict[str, TimeView | None] = Field(description="Per criterion; null for a "
                                                        "non-responder.")


class Casebook(Answer):
    """The fold of a participant's effective entries, as of a recorded time, over all data or
    at a clinical cutoff."""

    participant_id: str
    site_id: str
    version: int
    status: Literal["on_treatment", "follow_up", "withdrawn", "dead"]
    enrollment: EnrollmentView
    treatment_start_on: date | None
    doses: dict[str, list[EntryView]] = Field(description="Per study drug.")
    dose_modifications: list[EntryView]
    tace_sessions: list[EntryView]
    tumor_assessments: list[EntryView]
    adverse_events: list[AdverseEventView]
    anticancer_therapies: list[EntryView]
    withdrawal: EntryView | None
    last_known_alive_on: date | None
    died_on: date | None
    assessments: list[AssessmentRow]
    best_overall_response: dict[str, BestResponseView] = Field(description="Per criterion.")
    time_to_event: TimesToEvent
    signatures: list[SignatureOut]
    as_of: RecordedAt | None = Field(description="The as_of asked for; null: now.")
    cutoff: date | None = Field(default=None, description=(
        "The clinical cutoff asked for (a declared cutoff's name answers its date): entries "
        "dated after it are left out and the outcome fields are derived at it; null: all "
        "data."))


class StreamEvent(Answer):
    """One event of a participant's stream, as recorded, with audit metadata."""

    event_id: str
    type: str
    version: int
    position: int
    occurred_on: date
    data: dict[str, Any] = Field(description="The event's data as originally recorded.")
    reason: str | None
    recorded_at: RecordedAt
    recorded_by: str
    role: str
    site_id: str | None
    client_request_id: str | None
    hash: str
    corrected_by: list[str] = Field(default_factory=list,
                                    description="Present when later events corrected it.")
    voided_by: str | None = Field(default=None, description="Present when a later event "
                                                            "voided it.")
    provenance: dict[str, Any] | None = Field(default=None, description=(
        "Present on an event imported from another system's ODM file: the file's own audit "
        "record of it (user, role, site, recorded_at, reason, source_id) and the file it came "
        "from; `recorded_by` and `recorded_at` are then the import's."))
