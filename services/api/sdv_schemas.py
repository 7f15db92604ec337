"""Request and response models of source-data verification (services/api/routes/sdv.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.events import EventId, LongText, ShortText
from domain.values import UNIQUE, IsoDate
from services.api.casebook_schemas import Answer, RecordedAt
from services.api.study_schemas import ScopedAnswer

MAX_MARKS = 500


class VerificationRequest(BaseModel):
    """What the monitor verified against source: the entries by event id, or a whole visit
    (every entry of one clinical date not verified already); a visit label and a comment."""

    model_config = ConfigDict(extra="forbid")

    event_ids: Annotated[list[EventId], UNIQUE] | None = Field(
        default=None, min_length=1, max_length=MAX_MARKS,
        description="The event_id of each entry verified (effective clinical entries of this "
                    "participant), each at most once. Give this or visit_on, not both.")
    visit_on: IsoDate | None = Field(
        default=None, description="Verify the visit of this clinical date (YYYY-MM-DD): every "
                                  "effective entry dated that day not verified already.")
    visit: ShortText | None = Field(default=None, description="The visit's label as the site "
                                                              "knows it, e.g. Cycle 3 Day 1.")
    comment: LongText | None = Field(default=None, description="The monitor's note, e.g. the "
                                                               "source documents compared.")

    @model_validator(mode="after")
    def _one_selection(self) -> VerificationRequest:
        if (self.event_ids is None) == (self.visit_on is None):
            raise ValueError("give either event_ids or visit_on (exactly one)")
        return self


class VerifiedOut(BaseModel):
    participant_id: str
    verified: list[str] = Field(description="The event ids marked verified.")
    withdrawn: list[str] = Field(description="Marks of these entries were withdrawn first (the "
                                             "entry changed after its earlier verification).")
    version: int = Field(description="The version of the participant's SDV record.")
    position: int = Field(description="The ledger position of the verification.")
    recorded_at: RecordedAt


class MarkOut(Answer):
    verified_by: str
    visit: str | None
    comment: str | None
    entry_sha256: str = Field(description="SHA-256 of the entry's content as verified.")
    participant_version: int = Field(description="The participant's version verified against.")
    position: int
    recorded_at: RecordedAt
    withdrawn_because: str | None = Field(description="The correction or void that withdrew "
                                                      "the mark (recorded or pending).")
    withdrawal_recorded_at: RecordedAt | None = Field(
        description="When the withdrawal was recorded; null with a pending one.")
    times_verified: int


SdvStatus = Literal["verified", "to_verify", "not_required", "withdrawn", "withdrawn_pending"]


class SdvEntry(Answer):
    event_id: str
    type: str
    occurred_on: date
    effective: bool = Field(description="False for a voided entry shown for its mark.")
    required: bool = Field(description="The risk-based plan requires its verification.")
    plan: str = Field(description="Why the plan requires it or not.")
    status: SdvStatus
    mark: MarkOut | None


class SdvFigures(Answer):
    entries: int = Field(description="Effective clinical entries.")
    required: int = Field(description="Of them, those the plan requires.")
    verified: int = Field(description="Effective entries with a mark that holds.")
    verified_required: int
    to_verify: int = Field(description="Required and not verified (withdrawn ones included).")
    withdrawn: int = Field(description="Entries whose newest mark was withdrawn (recorded).")
    withdrawn_pending: int = Field(description="Changed after their mark; the withdrawal is "
                                               "not recorded yet.")
    not_required: int
    percent_of_plan: float = Field(description="verified_required / required, in percent.")


class ParticipantSdv(Answer):
    participant_id: str
    site_id: str
    summary: SdvFigures
    entries: list[SdvEntry]
    as_of: str | None


class ParticipantSdvRow(SdvFigures):
    participant_id: str
    site_id: str


class SiteSdvRow(SdvFigures):
    site_id: str
    participants: int


class SdvSummary(ScopedAnswer):
    sites: list[SiteSdvRow]
    participants: list[ParticipantSdvRow]
