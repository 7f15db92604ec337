"""A batch of events in one request: an EDC syncing a site's backlog, or a migration.

Each event keeps its own Idempotency-Key, its own access check, rule check and result (the
recorded event, its replay, or a problem with `loc` inside the batch), and its own chain row;
one bad event never loses the good ones, and the good ones are appended in one group
transaction (ADR 0011), so the batch is answered after one durable commit.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from domain.errors import InvalidEntry, RuleViolation, UnknownParticipant
from domain.events import ParticipantEnrolledData
from domain.participant import Participant
from infra.logging import get_logger
from services.access import AccessDenied, authorize
from services.api.deps import ActorDep, LedgerDep
from services.api.errors import problem_of
from services.api.routes.participants import authorized, check_site_change, not_visible
from services.api.schemas import EventSubmission, RecordedEventOut
from services.application import BatchItem, BatchOutcome, Submission

router = APIRouter(prefix="/api/v1/events", tags=["participants"])
log = get_logger("trial_ledger.events")

MAX_EVENTS = 500
PARTICIPANT_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,200}$")
SUBMISSION: TypeAdapter[Any] = TypeAdapter(EventSubmission)
REFUSALS = (RuleViolation, InvalidEntry, UnknownParticipant, AccessDenied)


class EventBatch(BaseModel):
    events: list[Any] = Field(
        min_length=1, max_length=MAX_EVENTS,
        description=("Up to 500 events, each an object with `participant_id`, "
                     "`idempotency_key` (1-200 printable ASCII characters, unique per event) "
                     "and the fields of a single event submission (`type`, `occurred_on`, "
                     "`data`, `reason`, `expected_version`)."),
        examples=[[{"participant_id": "HCC-01-003", "idempotency_key": "site01-000123",
                    "type": "FollowUpContact", "occurred_on": "2026-03-02",
                    "data": {"alive": True}}]])


class BatchResult(BaseModel):
    index: int = Field(description="The event's place in the batch, from 0.")
    participant_id: str | None
    status: int = Field(description="201 recorded (or replayed), else the refusal's status.")
    replayed: bool = False
    event: RecordedEventOut | None = None
    problem: dict[str, Any] | None = Field(
        default=None, description="The refusal as problem+json; `errors[].loc` points into "
                                  "the batch, e.g. events.3.data.dose_mg.")


class BatchOut(BaseModel):
    results: list[BatchResult]
    appended: int
    replayed: int
    refused: int


@router.post("/batch", response_model=BatchOut)
def post_events(body: Annotated[EventBatch, Body()], ledger: LedgerDep, actor: ActorDep,
                request: Request) -> Response:
    """Record many trial actions in one request, each as its own immutable, hash-chained
    event with its own result; the good ones are appended in one transaction."""
    results: list[dict[str, Any] | None] = [None] * len(body.events)
    items: list[BatchItem] = []
    places: list[int] = []
    for index, raw in enumerate(body.events):
        item = _item(index, raw)
        if isinstance(item, dict):
            results[index] = item
        else:
            items.append(item)
            places.append(index)

    def check(participant: Any, item: BatchItem) -> None:
        """The single route's access checks, for one item."""
        submission = item.submission
        enrolling = submission.type == "ParticipantEnrolled"
        if isinstance(participant, Participant):
            authorized(actor, participant, None, "write_clinical", enrolling=enrolling)
            check_site_change(participant, actor, submission)
        elif participant is not None or not enrolling:
            raise not_visible(item.participant_id, None, writing=True)
        else:
            enrolment = cast(ParticipantEnrolledData, submission.data)  # enrolling: checked above
            authorize(actor.role, actor.sites, "write_clinical", enrolment.site_id)

    outcomes = ledger.record_participant_events(items, actor, check=check, refusals=REFUSALS)
    for index, item, outcome in zip(places, items, outcomes, strict=True):
        results[index] = _result(index, item.participant_id, outcome)
    done = [r for r in results if r is not None]
    counts = {"appended": sum(1 for r in done if r["status"] == 201 and not r["replayed"]),
              "replayed": sum(1 for r in done if r["replayed"]),
              "refused": sum(1 for r in done if r["status"] != 201)}
    log.info("events_batch", user=actor.username, role=actor.role, events=len(done), **counts)
    # Built from our own values of the documented types: written as is (BatchOut documents it).
    return JSONResponse({"results": done, **counts})


def _item(index: int, raw: Any) -> BatchItem | dict[str, Any]:
    """The item as a validated submission, or its 422 result with every problem's place."""
    where = f"events.{index}"
    if not isinstance(raw, dict):
        return _invalid(index, None, [{"loc": where, "msg": "each event must be an object"}])
    pid, key = raw.get("participant_id"), raw.get("idempotency_key")
    problems = []
    if not isinstance(pid, str) or not PARTICIPANT_ID.fullmatch(pid):
        problems.append({"loc": f"{where}.participant_id", "msg": (
            "a trial participant id is required, e.g. HCC-01-003 (upper case letters, digits, "
            "hyphens; 2-32 characters)")})
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.fullmatch(key):
        problems.append({"loc": f"{where}.idempotency_key", "msg": (
            "each event needs its own idempotency_key: 1-200 printable ASCII characters")})
    fields = {k: v for k, v in raw.items() if k not in ("participant_id", "idempotency_key")}
    try:
        submission = SUBMISSION.validate_python(fields)
    except ValidationError as error:
        problems += [{"loc": ".".join([where, *_location(e["loc"])]), "msg": e["msg"]}
                     for e in error.errors()]
    shown_pid = pid if isinstance(pid, str) and PARTICIPANT_ID.fullmatch(pid) else None
    if problems:
        return _invalid(index, shown_pid, problems)
    return BatchItem(str(pid), Submission(submission.type, submission.occurred_on,
                                          submission.data, submission.reason,
                                          submission.expected_version), str(key))


def _location(loc: tuple[Any, ...]) -> list[str]:
    """pydantic's location without the discriminated union's tag (an event type name)."""
    parts = [str(part) for part in loc]
    return parts[1:] if parts and parts[0][:1].isupper() else parts


def _invalid(index: int, participant_id: str | None, errors: list[dict[str, Any]]
             ) -> dict[str, Any]:
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
    return {"index": index, "participant_id": participant_id, "status": 422,
            "replayed": False, "event": None,
            "problem": {"type": "about:blank", "title": "Invalid request", "status": 422,
                        "detail": detail, "errors": errors}}


def _result(index: int, participant_id: str, outcome: BatchOutcome) -> dict[str, Any]:
    if outcome.recorded is not None:
        return {"index": index, "participant_id": participant_id, "status": 201,
                "replayed": not outcome.appended, "event": outcome.recorded.as_dict(),
                "problem": None}
    assert outcome.error is not None
    problem = problem_of(outcome.error)
    assert problem is not None, f"not a refusal: {outcome.error!r}"
    problem["errors"] = [{**e, "loc": f"events.{index}.{e['loc']}"} for e in problem["errors"]]
    return {"index": index, "participant_id": participant_id, "status": problem["status"],
            "replayed": False, "event": None, "problem": problem}
