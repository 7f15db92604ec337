"""Source-data verification: a monitor marks entries verified; everyone who reads the data sees
what the risk-based plan still asks, per participant and per site, as of any recorded time.

`POST /participants/{id}/sdv` records the marks (a monitor, at their own sites: verifying
against the hospital's records is the monitor's act). The reads never write: a mark whose
entry changed since shows `withdrawn_pending` until the withdrawal is recorded
(services/monitoring/sdv.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from domain.errors import UnknownParticipant
from infra.logging import get_logger
from services.api.deps import ActorDep, AsOfDep, LedgerDep, author_of
from services.api.responses import CONFLICT_409, PARTICIPANT_404, merged
from services.api.routes.audit import SITE_ID
from services.api.routes.participants import (
    ParticipantId,
    authorized,
    not_visible,
    visible_participant,
)
from services.api.scope import empty_state, readable_sites, scope, visible_participants, where
from services.api.sdv_schemas import ParticipantSdv, SdvSummary, VerificationRequest, VerifiedOut
from services.sdv import participant_status, site_summaries, verify

router = APIRouter(prefix="/api/v1", tags=["source data verification"])
log = get_logger("trial_ledger.sdv")

SiteQuery = Annotated[str | None, Query(
    pattern=SITE_ID, examples=["S01"],
    description="Only this site (a site you may not read answers as one with no participant).")]


@router.post("/participants/{participant_id}/sdv", status_code=201, response_model=VerifiedOut,
             responses=merged(PARTICIPANT_404, CONFLICT_409))
def verify_source(participant_id: ParticipantId, body: VerificationRequest, request: Request,
                  ledger: LedgerDep, actor: ActorDep) -> JSONResponse:
    """Mark entries verified against source: by event id, or a whole visit (every entry of one
    clinical date not verified already). Each mark is bound to the entry's content as it
    stands (its SHA-256 and the participant's version); a later correction or void withdraws
    it. An entry that is not the participant's is a 422; one that is voided, a correction, or
    verified and unchanged since is a 409."""
    visible_participant(ledger, actor, participant_id, None, "verify_source")
    recorded = verify(ledger, participant_id, author_of(actor, request),
                      event_ids=body.event_ids, visit_on=body.visit_on, visit=body.visit,
                      comment=body.comment)
    log.info("source_verified", user=actor.username, participant=participant_id,
             entries=len(recorded.event_ids), withdrawn=len(recorded.withdrawn),
             position=recorded.position)
    return JSONResponse(recorded.as_dict(), status_code=201)


@router.get("/participants/{participant_id}/sdv", response_model=ParticipantSdv,
            responses=PARTICIPANT_404)
def participant_sdv(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                    as_of: AsOfDep = None) -> dict[str, Any]:
    """Each effective entry's place in the risk-based plan and its SDV status (verified,
    to_verify, not_required, withdrawn, withdrawn_pending), with its newest mark; a voided
    entry that was verified is listed for its withdrawn mark."""
    try:
        participant = ledger.participant(participant_id, as_of=as_of)
    except UnknownParticipant:
        raise not_visible(participant_id, as_of) from None
    authorized(actor, participant, as_of, "read_clinical")
    return participant_status(ledger, participant, as_of)


@router.get("/sdv", response_model=SdvSummary)
def sdv_summary(request: Request, ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None,
                site_id: SiteQuery = None) -> dict[str, Any]:
    """The plan's figures per participant and per site you may read, as of as_of: entries
    required, verified, still to verify, withdrawn, and the share of the plan done."""
    readable = readable_sites(actor)
    sites = readable
    if site_id is not None:
        sites = (site_id,) if readable is None or site_id in readable else ()
    participants = visible_participants(ledger, sites, as_of)
    figures = site_summaries(ledger, participants, as_of)
    count = len(participants)
    return {**figures,
            "scope": scope(readable if site_id is None else sites, enrolled=count,
                           covered=count, as_of=as_of),
            **empty_state(request.app.state.engine, as_of, bool(participants),
                          f"no participant is enrolled at {where(sites)}")}
