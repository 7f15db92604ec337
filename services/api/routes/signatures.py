"""Electronic signatures on a casebook (Part 11 §11.50, §11.70, §11.200): an investigator of
the participant's site signs with a meaning and the password again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from infra.logging import get_logger
from services.api.casebook_schemas import SignatureOut
from services.api.deps import ActorDep, AsOfDep, LedgerDep, author_of, request_id
from services.api.responses import CONFLICT_409, PARTICIPANT_404, WRONG_PASSWORD_401, merged
from services.api.routes.participants import ParticipantId, _readable, visible_participant
from services.api.schemas import SignatureRequest
from services.api.sign_in_guard import clock, sign_in_policy
from services.authentication import authenticate

router = APIRouter(prefix="/api/v1/participants", tags=["signatures"])
log = get_logger("trial_ledger.signatures")


@router.post("/{participant_id}/signatures", status_code=201, response_model=SignatureOut,
             responses=merged(PARTICIPANT_404, WRONG_PASSWORD_401, CONFLICT_409))
def sign_casebook(participant_id: ParticipantId, body: Annotated[SignatureRequest, Body()],
                  ledger: LedgerDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Sign the casebook as it stands; a wrong password is 401 and counts toward the lockout."""
    visible_participant(ledger, actor, participant_id, None, "sign_casebook")
    account = authenticate(ledger, actor.username, body.password.get_secret_value(),
                           purpose="signature", request_id=request_id(request),
                           policy=sign_in_policy(request), now=clock(request))
    signature = ledger.sign_casebook(
        participant_id, full_name=account.full_name, meaning=body.meaning,
        by=author_of(actor, request),
        today=datetime.now(UTC).date())
    log.info("casebook_signed", user=actor.username, participant=participant_id,
             covers_version=signature["covers_version"])
    return signature


@router.get("/{participant_id}/signatures", response_model=list[SignatureOut],
            responses=PARTICIPANT_404)
def list_signatures(participant_id: ParticipantId, ledger: LedgerDep, actor: ActorDep,
                    as_of: AsOfDep = None) -> list[dict[str, Any]]:
    """Every signature with its status: `invalidated` (and by which event) once a later entry
    changed what was signed."""
    return ledger.signature_views(_readable(ledger, actor, participant_id, as_of))
