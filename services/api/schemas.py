"""Request and response models; the event submission is a union over the event catalogue,
so the OpenAPI document shows the `data` schema of every event type."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, create_model

from domain.events import CATALOGUE, Payload
from domain.text import FREE_TEXT, SECRET_TEXT, TEXT
from domain.values import Count, IsoDate

ReasonText = Annotated[str, StringConstraints(max_length=2000), FREE_TEXT]


class SubmissionBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_on: IsoDate = Field(description="Clinical date (valid time), YYYY-MM-DD.")
    reason: ReasonText | None = None
    expected_version: Count | None = Field(
        default=None, ge=0,
        description="The participant version the client last saw; 409 if it has moved on.",
    )


def _submission_model(type_name: str, payload: type[Payload], summary: str) -> type[BaseModel]:
    one_type: Any = Literal.__getitem__(type_name)  # Literal["<the event type>"], built here
    return create_model(
        f"{type_name}Submission",
        __base__=SubmissionBase,
        __doc__=summary,
        type=(one_type, Field(description=summary)),
        data=(payload, ...),
    )


SUBMISSION_MODELS = {name: _submission_model(name, spec.payload, spec.summary)
                     for name, spec in CATALOGUE.items()}

if TYPE_CHECKING:
    class EventSubmission(SubmissionBase):
        """What the type checker sees of the union below: every submission's common fields;
        `data` is the payload model its `type` names (a Payload subclass, chosen at run time)."""

        type: str
        data: Any
else:
    EventSubmission = Annotated[
        Union[tuple(SUBMISSION_MODELS.values())],  # noqa: UP007 - built from the catalogue
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
    status: Literal["on_treatment", "follow_up", "withdrawn", "dead"]
    version: int


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


def submission_fields(body: Any) -> tuple[str, date, Payload, str | None, int | None]:
    return body.type, body.occurred_on, body.data, body.reason, body.expected_version


# -- accounts, signatures, locks (Part 11) ------------------------------------------------

Password = Annotated[SecretStr, Field(min_length=1, max_length=1024), SECRET_TEXT]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                   FREE_TEXT, Field(description="Why: required, kept in the hashed event.")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64), TEXT]
"""A username, a role or a cutoff's name (their patterns are checked where they are used)."""
SiteList = list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$")]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    username: str
    full_name: str
    role: str | None = Field(description="Null when revoked.")
    sites: list[str]
    active: bool
    locked: bool
    locked_by: str | None
    lock_reason: str | None
    locked_until: str | None = Field(description="RFC 3339; null: until an unlock.")
    must_change_password: bool
    consecutive_failed_logins: int
    password_version: int
    version: int


class NewAccount(Strict):
    username: Name = Field(description="2-32 lower-case letters, digits, . _ -; never reused.")
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=200), TEXT] = Field(
        description="Printed name shown on signatures (Part 11 §11.50).")
    role: Name
    sites: SiteList = Field(default_factory=list)
    password: Password


class RoleChange(Strict):
    role: Name | None = Field(description="The new role; null revokes the current one.")
    reason: Reason


class SitesChange(Strict):
    sites: SiteList
    reason: Reason


class ReasonOnly(Strict):
    reason: Reason


class PasswordResetByAdmin(Strict):
    new_password: Password
    reason: Reason


class PasswordChange(Strict):
    username: Name | None = Field(default=None, description="Required without a token.")
    current_password: Password
    new_password: Password


class SignatureRequest(Strict):
    meaning: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200), TEXT] = Field(
        description="What the signature means, e.g. 'I approve this casebook as complete "
                    "and accurate' (Part 11 §11.50).")
    password: Password


class CutoffDeclaration(Strict):
    name: Name = Field(description="A name analyses can ask for, e.g. primary-analysis.")
    cutoff_on: IsoDate
    reason: Reason


class SiteTransfer(Strict):
    to_site: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,15}$")] = Field(
        description="The site that takes over the participant's care and data entry.")
    reason: Reason
