"""Request and response models; the event submission is a union over the event catalogue,
so the OpenAPI document shows the `data` schema of every event type."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from domain.events import CATALOGUE, Payload

ReasonText = Annotated[str | None, Field(default=None, max_length=2000)]


class SubmissionBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_on: date = Field(description="Clinical date (valid time), YYYY-MM-DD.")
    reason: ReasonText = None
    expected_version: int | None = Field(
        default=None, ge=0,
        description="The participant version the client last saw; 409 if it has moved on.",
    )


def _submission_model(type_name: str, payload: type[Payload], summary: str) -> type[BaseModel]:
    return create_model(
        f"{type_name}Submission",
        __base__=SubmissionBase,
        __doc__=summary,
        type=(Literal[type_name], Field(description=summary)),  # type: ignore[valid-type]
        data=(payload, ...),
    )


SUBMISSION_MODELS = {name: _submission_model(name, spec.payload, spec.summary)
                     for name, spec in CATALOGUE.items()}

EventSubmission = Annotated[
    Union[tuple(SUBMISSION_MODELS.values())],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="type"),
]


class RecordedEventOut(BaseModel):
    event_id: str
    participant_id: str
    type: str
    version: int
    position: int
    occurred_on: date
    recorded_at: str
    recorded_by: str
    hash: str


class ParticipantSummary(BaseModel):
    participant_id: str
    site_id: str
    status: str
    version: int


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class VerifyOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool


def submission_fields(body: Any) -> tuple[str, date, Payload, str | None, int | None]:
    return body.type, body.occurred_on, body.data, body.reason, body.expected_version
