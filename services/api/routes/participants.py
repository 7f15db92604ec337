"""Participants: post events, read the casebook and the event stream, list participants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from domain.errors import RuleViolation, UnknownParticipant
from domain.participant import NewEntry, Participant
from infra.logging import get_logger
from services.access import AccessDenied, Action, authorize
from services.access_refusals import hidden
from services.api.casebook_schemas import Casebook, StreamEvent
from services.api.casebook_view import casebook
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.api.examples import submission_examples
from services.api.responses import CONFLICT_409, PARTICIPANT_404, merged
from services.api.routes.analysis import Cutoff
from services.api.schemas import EventSubmission, RecordedEventOut
from services.api.scope import empty_state, participant_summaries, readable_sites, scope
from services.api.scope import where as _where
from services.api.study_schemas import ParticipantList
from services.application import Actor, Submission, TrialLedger

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


@router.post("/{participant_id}/events", status_code=201, response_model=RecordedEventOut,
             responses=merged(PARTICIPANT_404, CONFLICT_409))
def post_event(
    participant_id: ParticipantId,
    body: Annotated[EventSubmission, Body(openapi_examples=submission_examples())],
    ledger: LedgerDep, actor: ActorDep, request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record one trial action as an immutable, hash-chained event.

    The caller's right to the participant's real site is checked before any rule runs, so a
    participant at a site the caller may not read answers exactly as an unknown one does."""
    enrolling = body.type == "ParticipantEnrolled"
    state = ledger.decision_state(participant_id)  # the one read the decision needs
    existing = None
    if isinstance(state.participant, Participant):
        existing = authorized(actor, state.participant, None, "write_clinical",
                              enrolling=enrolling)
    elif state.participant is not None or not enrolling:
        raise hidden(not_visible(participant_id, None, writing=True), actor, participant_id,
                     None, "write_clinical")
    if existing is None:
        authorize(actor.role, actor.sites, "write_clinical", body.data.site_id)
    else:
        check_site_change(existing, actor, body)
    submission = Submission(body.type, body.occurred_on, body.data, body.reason,
                            body.expected_version)
    recorded, appended = ledger.record_participant_event(
        participant_id, submission, actor, idempotency_key=idempotency_key,
        request_id=getattr(request.state, "request_id", None), state=state,
    )
    log.info("event_recorded" if appended else "event_replayed", user=actor.username,
             role=actor.role, participant=participant_id,
             event_type=recorded.type, position=recorded.position, version=recorded.version)
    # Every field is ours and already of the documented type: written as is, not validated
    # again against RecordedEventOut (which would cost a hand-off to another thread).
    return JSONResponse(recorded.as_dict(), status_code=201,
                        headers=None if appended else {"Idempotent-Replayed": "true"})


@router.get("", response_model=ParticipantList)
def list_participants(request: Request, ledger: LedgerDep, actor: ActorDep,
                      as_of: AsOfDep = None) -> dict[str, Any]:
    """Every participant you may see, with site, status and version, and the scope: the
    sites you may read and how many participants are enrolled there as of as_of."""
    sites = readable_sites(actor)
    summaries = participant_summaries(ledger, request.app.state.engine, sites, as_of)
    count = len(summaries)
    return {"participants": summaries,
            "scope": scope(sites, enrolled=count, covered=count, as_of=as_of),
            **empty_state(request.app.state.engine, as_of, bool(summaries),
                          f"no participant is enrolled at {_where(sites)}")}


def not_visible(participant_id: str, as_of: str | None, *, writing: bool = False
                ) -> UnknownParticipant:
    """The one answer for a participant that does not exist and for one at a site the caller
    may not see: the same status and the same words, so a refusal tells a stranger nothing."""
    when = f" as of {as_of}" if as_of else ""
    hint = ": check the id, or post ParticipantEnrolled first" if writing else ""
    return UnknownParticipant(
        f"participant {participant_id} is not enrolled{when} at a site you may access{hint}")


def visible_participant(ledger: TrialLedger, actor: Actor, participant_id: str,
                        as_of: str | None, action: Action, *, enrolling: bool = False
                        ) -> Participant | None:
    """The participant if the actor may `action` at their site. An unknown participant is
    None when `enrolling` (a new one may be enrolled), else the same 404 as a participant at
    a site the actor may not read. Readable but not allowed to `action`: 403."""
    writing = action == "write_clinical"
    try:
        participant = ledger.participant(participant_id, as_of=as_of)
    except UnknownParticipant:
        if enrolling:
            return None
        raise hidden(not_visible(participant_id, as_of, writing=writing), actor, participant_id,
                     None, action) from None
    return authorized(actor, participant, as_of, action, enrolling=enrolling)


def authorized(actor: Actor, participant: Participant, as_of: str | None, action: Action, *,
               enrolling: bool = False) -> Participant:
    """The participant, if the actor may `action` at their site: another site's participant
    is the same 404 as an unknown one; readable but not allowed to `action` is a 403."""
    writing = action == "write_clinical"
    try:
        authorize(actor.role, actor.sites, "read_clinical", participant.site_id)
    except AccessDenied:
        if enrolling:
            raise RuleViolation("participant_id_taken", f"participant id {participant.id} is "
                                "already in use: choose another id") from None
        raise hidden(not_visible(participant.id, as_of, writing=writing), actor,
                     participant.id, participant.site_id, action) from None
    authorize(actor.role, actor.sites, action, participant.site_id)
    return participant


def check_site_change(participant: Participant, actor: Actor, body: Any) -> None:
    """Only a data manager may change which site a participant belongs to: by correcting a
    wrongly entered enrolment site, or by a transfer (its own event naming both sites)."""
    if body.type != "EntryCorrected":
        return
    probe = NewEntry(event_id="", type=body.type, occurred_on=body.occurred_on,
                     data=body.data, reason=body.reason, actor=actor.username, role=actor.role)
    new_site = participant.corrected_site(probe)
    if new_site is not None:
        try:
            authorize(actor.role, actor.sites, "transfer_participant", new_site)
        except AccessDenied:
            raise AccessDenied(
                f"correcting the enrolment's site_id would move participant {participant.id} "
                f"from {participant.site_id} to {new_site}: only a data manager may change a "
                "participant's site (POST .../transfer for a move of care)") from None


def _readable(ledger: TrialLedger, actor: Actor, participant_id: str, as_of: str | None
              ) -> Participant:
    """The participant, if the actor may read their site; otherwise the same 404 as for a
    participant that does not exist."""
    participant = visible_participant(ledger, actor, participant_id, as_of, "read_clinical")
    assert participant is not None
    return participant


@router.get("/{participant_id}", response_model=Casebook, response_model_exclude_unset=True,
            responses=PARTICIPANT_404)
def read_casebook(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                  as_of: AsOfDep = None, cutoff: Cutoff = None) -> dict[str, Any]:
    """The casebook: the fold of the participant's effective entries, as of a recorded time,
    with the electronic signatures on it (valid or invalidated). With `cutoff` (a date or a
    declared cutoff's name), entries dated after it are left out and the outcome fields are
    derived at it, as `/endpoints` counts the participant there."""
    try:
        loaded = ledger.point_in_time(participant_id, as_of=as_of)
    except UnknownParticipant:
        raise not_visible(participant_id, as_of) from None
    participant = authorized(actor, loaded.aggregate, as_of, "read_clinical")
    return {**casebook(participant, cutoff=cutoff, cached=loaded.outcome),
            "signatures": ledger.signature_views(participant), "as_of": as_of,
            "cutoff": None if cutoff is None else cutoff.isoformat()}


@router.get("/{participant_id}/events", response_model=list[StreamEvent],
            response_model_exclude_unset=True, responses=PARTICIPANT_404)
def read_events(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                as_of: AsOfDep = None) -> list[dict[str, Any]]:
    """The participant's stream with audit metadata, and which later events corrected or voided
    each one."""
    participant = _readable(ledger, actor, participant_id, as_of)
    out = []
    for event, chain in ledger.events_of(participant):
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
        provenance = getattr(event, "provenance", None)
        if provenance is not None:
            item["provenance"] = provenance
        out.append(item)
    return out
