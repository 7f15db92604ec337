"""Request and response models of the queries routes (services/api/routes/queries.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.events import EventId, LongText

FieldPath = Annotated[str, StringConstraints(
    min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_ .\-]+(/[A-Za-z0-9_ .\-]+)*$")]
StateName = Literal["candidate", "open", "answered", "closed", "cancelled"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenQueryIn(_Body):
    """A question about one recorded entry of a participant (optionally one field of it)."""

    participant_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
    event_id: EventId = Field(description="The entry the query is on.")
    field: FieldPath | None = Field(default=None, description=(
        "One value of the entry's data: keys and list indices joined by '/', e.g. "
        "`afp_ng_ml` or `reads/RECIST 1.1/targets/0/diameter_mm`."))
    text: LongText = Field(description="The question, as the site will read it.")
    candidate: bool = Field(default=False, description=(
        "Open as a candidate: not shown to the site until issued (POST .../issue)."))


class AnswerIn(_Body):
    text: LongText = Field(description="The site's answer.")
    correction_event_id: EventId | None = Field(default=None, description=(
        "The correction (or void) of the queried entry that answers the query, if one was "
        "recorded: it must correct or void that entry."))


class StepIn(_Body):
    """Close or cancel: an optional comment."""

    text: LongText | None = None


class ReopenIn(_Body):
    text: LongText = Field(description="Why the answer does not settle the query.")


class QueryStepOut(BaseModel):
    action: str = Field(description="opened, issued, answered, closed, re-opened, cancelled.")
    state: StateName
    version: int
    by: str
    role: str
    text: str | None
    cites: str | None = Field(description="The correction an answer names, or the event "
                                          "that resolved a system query.")
    recorded_at: str | None


class QueryOut(BaseModel):
    query_id: str
    participant_id: str
    site_id: str = Field(description="The participant's site as of the read.")
    event_id: str = Field(description="The entry the query is on.")
    event_type: str
    field: str | None
    origin: str = Field(description="`manual`, or the id of the edit check that opened it.")
    source: Literal["manual", "system"]
    state: StateName
    opened_by: str
    opened_role: str
    text: str | None = Field(description="The question as opened.")
    opened_at: str | None
    updated_at: str | None
    age_days: int = Field(description="Whole days from opening to as_of (or now).")
    version: int
    history: list[QueryStepOut]


class QueryListOut(BaseModel):
    queries: list[QueryOut]
    count: int
    as_of: str | None


class SiteQueryCounts(BaseModel):
    site_id: str
    total: int
    states: dict[StateName, int]
    system_opened: int = Field(description="How many of them an edit check opened.")
    active_ages_days: dict[str, int] = Field(description=(
        "Open and answered queries by days since opening: 0-7, 8-14, 15-30, 31+."))
    oldest_active_days: int | None
    mean_active_days: float | None


class QuerySummaryOut(BaseModel):
    sites: list[SiteQueryCounts]
    as_of: str | None
