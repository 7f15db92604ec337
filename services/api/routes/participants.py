"""Participants: post events, read the casebook and the event stream, list participants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request, Response

from domain.casebook import casebook, status
from infra.logging import get_logger
from services.access import authorize, visible_sites
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.api.schemas import EventSubmission, ParticipantSummary, RecordedEventOut
from services.application import Submission

router = APIRouter(prefix="/api/v1/participants", tags=["participants"])
log = get_logger("trial_ledger.events")

ParticipantId = Annotated[str, Path(
    pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$",
    description="Trial participant id, e.g. HCC-01-003 (upper case letters, digits, hyphens).",
)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200,
    description="Client-chosen key: a retry with the same key and body appends nothing.",
)]


@router.post("/{participant_id}/events", status_code=201, response_model=RecordedEventOut)
def post_event(
    participant_id: ParticipantId,
    body: Annotated[EventSubmission, Body()],
    ledger: LedgerDep, actor: ActorDep, request: Request, response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Record one trial action as an immutable, hash-chained event."""
    if body.type == "ParticipantEnrolled":
        site_id = body.data.site_id
    else:
        site_id = ledger.participant(participant_id).site_id
    authorize(actor.role, actor.sites, "write_clinical", site_id)
    submission = Submission(body.type, body.occurred_on, body.data, body.reason,
                            body.expected_version)
    recorded, appended = ledger.record_participant_event(
        participant_id, submission, actor, idempotency_key=idempotency_key,
        request_id=getattr(request.state, "request_id", None),
    )
    if not appended:
        response.headers["Idempotent-Replayed"] = "true"
    log.info("event_recorded" if appended else "event_replayed", user=actor.username,
             role=actor.role, participant=participant_id,
             event_type=recorded.type, position=recorded.position, version=recorded.version)
    return recorded.as_dict()


@router.get("", response_model=list[ParticipantSummary])
def list_participants(ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None
                      ) -> list[dict[str, Any]]:
    """Every participant you may see, with site, status and version."""
    sites = visible_sites(actor.role, actor.sites, "read_clinical")
    summaries = []
    for participant_id, _ in ledger.participant_ids(as_of=as_of):
        participant = ledger.participant(participant_id, as_of=as_of)
        if sites is None or participant.site_id in sites:
            summaries.append({"participant_id": participant_id, "site_id": participant.site_id,
                              "status": status(participant), "version": participant.version})
    return summaries


def _readable(ledger: Any, actor: Any, participant_id: str, as_of: str | None) -> Any:
    """The participant, if the actor may read their site (403 otherwise)."""
    participant = ledger.participant(participant_id, as_of=as_of)
    authorize(actor.role, actor.sites, "read_clinical", participant.site_id)
    return participant


@router.get("/{participant_id}")
def read_casebook(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                  as_of: AsOfDep = None) -> dict[str, Any]:
    """The casebook: the fold of the participant's effective entries, as of a recorded time,
    with the electronic signatures on it (valid or invalidated)."""
    participant = _readable(ledger, actor, participant_id, as_of)
    return {**casebook(participant), "signatures": ledger.signatures_of(participant_id,
                                                                        as_of=as_of),
            "as_of": as_of}


@router.get("/{participant_id}/events")
def read_events(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                as_of: AsOfDep = None) -> list[dict[str, Any]]:
    """The participant's stream with audit metadata, and which later events corrected or voided
    each one."""
    participant = _readable(ledger, actor, participant_id, as_of)
    out = []
    for event, chain in ledger.participant_events(participant_id, as_of=as_of):
        entry = participant.entries[event.event_id]
        item: dict[str, Any] = {
            "event_id": event.event_id, "type": type(event).__name__,
            "version": event.originator_version, "position": chain.position,
            "occurred_on": event.occurred_on, "data": event.data, "reason": event.reason,
            "recorded_at": chain.recorded_at, "recorded_by": event.actor, "role": event.role,
            "site_id": event.site_id, "client_request_id": event.client_request_id,
            "hash": chain.event_hash.hex(),
        }
        if entry.corrected_by:
            item["corrected_by"] = list(entry.corrected_by)
        if entry.voided_by:
            item["voided_by"] = entry.voided_by
        out.append(item)
    return out
