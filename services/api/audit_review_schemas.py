"""Request and response models of the audit-trail review (services/api/routes/audit_review.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from domain.text import FREE_TEXT, TEXT
from services.api.schemas import Password, Strict

SITE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,15}$"
FINDING_ID = r"^[a-z_]{1,40}-[0-9]{1,19}$"
HOURS = ("Working hours (local time, `HH:MM`; the end is excluded) on `work_days`, local time "
         "being UTC plus `utc_offset` (sites have no time zone in the study's record).")


class EntryRef(BaseModel):
    position: int = Field(description="The entry's ledger position.")
    event_id: str
    type: str
    stream_id: str
    participant_id: str | None
    site_id: str | None
    recorded_at: str
    recorded_by: str
    role: str
    occurred_on: str | None = Field(description="The clinical date, for clinical entries.")


class FindingOut(BaseModel):
    finding_id: str = Field(description="The rule and the first entry's position; stable.")
    kind: str = Field(description="outside_working_hours, late_entry, many_corrections, "
                                  "bulk_edits, failed_sign_ins, access_outside_sites or "
                                  "unverified_entry.")
    subject: str = Field(description="The user concerned (or a typed unknown name's digest).")
    summary: str
    sites: list[str]
    positions: list[int]
    event_ids: list[str]
    entries: list[EntryRef]


class WindowOut(BaseModel):
    recorded_from: str
    recorded_to: str = Field(description="At most the ledger's head when the report was read.")


class ReviewReportOut(BaseModel):
    window: WindowOut
    sites: list[str] | None = Field(description="The sites reviewed; null: every site.")
    rules: dict[str, Any] = Field(description="Every threshold and the working hours applied.")
    head_position: int | None = Field(description="The last ledger position in the window.")
    entries_examined: int
    findings: list[FindingOut]
    counts: dict[str, int] = Field(description="How many findings of each kind.")
    report_hash: str = Field(description="SHA-256 of the report's canonical JSON (every field "
                                         "but this one): what a recorded review binds to.")


class FindingNote(Strict):
    finding_id: Annotated[str, StringConstraints(pattern=FINDING_ID)]
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=2000), FREE_TEXT] = Field(
        description="What the reviewer found out about this finding.")


class ReviewRequest(Strict):
    """The report reviewed (the same window, sites and working hours as the GET, and the
    `report_hash` it gave), a note on each finding addressed, the conclusion, and the
    e-signature: its meaning and the reviewer's password again (Part 11 §11.200)."""

    recorded_from: AwareDatetime
    recorded_to: AwareDatetime
    site_id: Annotated[str, StringConstraints(pattern=SITE_PATTERN)] | None = None
    work_start: str = Field(default="07:00", description=HOURS)
    work_end: str = "19:00"
    work_days: str = "mon,tue,wed,thu,fri"
    utc_offset: str = "+00:00"
    report_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    findings: list[FindingNote] = Field(default_factory=list, max_length=10_000)
    conclusion: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=4000), FREE_TEXT]
    meaning: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200), TEXT] = Field(
        description="What the signature means, e.g. 'I reviewed this audit trail'.")
    password: Password


class ReviewOut(BaseModel):
    review_id: str
    window: WindowOut
    sites: list[str] | None
    rules: dict[str, Any]
    head_position: int | None
    report_hash: str
    finding_ids: list[str] = Field(description="Every finding of the report reviewed.")
    findings: list[dict[str, str]] = Field(description="finding_id and note of each addressed.")
    not_addressed: list[str]
    conclusion: str
    reviewer: str
    role: str
    full_name: str = Field(description="The signer's printed name (Part 11 §11.50).")
    meaning: str
    signed_at: str = Field(description="When the signed review was recorded (UTC).")
    position: int = Field(description="The review's ledger position.")


class ReviewListOut(BaseModel):
    reviews: list[ReviewOut]
    as_of: str | None
