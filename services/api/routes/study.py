"""Data cutoffs and locks (data managers): a locked participant, or a locked database, refuses
clinical writes with 409 until someone unlocks it with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from domain.study import STUDY_STREAM_ID
from infra.logging import get_logger
from services.api.deps import ActorDep, AsOfDep, LedgerDep, author_of
from services.api.responses import CONFLICT_409, PARTICIPANT_404, merged
from services.api.routes.participants import ParticipantId, visible_participant
from services.api.schemas import CutoffDeclaration, ReasonOnly, RecordedEventOut, SiteTransfer
from services.api.scope import nothing_recorded_note
from services.api.study_schemas import StudyOut
from services.application import TrialLedger

router = APIRouter(prefix="/api/v1", tags=["cutoffs and locks"])
log = get_logger("trial_ledger.locks")


def _today() -> date:
    return datetime.now(UTC).date()


def study_view(ledger: TrialLedger, as_of: str | None = None) -> dict[str, Any]:
    study = ledger.study(as_of=as_of)
    lock = study.database_lock if study else None
    return {
        "cutoffs": study.cutoff_views() if study else [],
        "locked": lock is not None,
        "lock": None if lock is None else {
            "locked_by": lock.by, "reason": lock.reason, "version": lock.version,
            "locked_at": ledger.recorded_at(STUDY_STREAM_ID, lock.version)},
        "version": study.version if study else 0,
        "as_of": as_of,
    }


@router.get("/study", response_model=StudyOut)
def read_study(request: Request, ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None
               ) -> dict[str, Any]:
    """Declared data cutoffs and whether the database is locked; `empty` and `note` say when
    nothing was recorded as of as_of."""
    note = nothing_recorded_note(request.app.state.engine, as_of)
    return {**study_view(ledger, as_of), "empty": note is not None, "note": note}


@router.post("/study/cutoffs", status_code=201, response_model=StudyOut,
             responses=CONFLICT_409)
def declare_cutoff(body: Annotated[CutoffDeclaration, Body()], ledger: LedgerDep,
                   actor: ActorDep, request: Request) -> dict[str, Any]:
    """Declare a named clinical cutoff date; analyses can then name it. It never changes."""
    by = author_of(actor, request)
    ledger.declare_cutoff(body.name, body.cutoff_on, by, body.reason)
    log.info("cutoff_declared", user=actor.username, cutoff=body.name,
             cutoff_on=body.cutoff_on.isoformat())
    return study_view(ledger)


@router.post("/study/lock", status_code=201, response_model=StudyOut,
             responses=CONFLICT_409)
def lock_database(body: Annotated[ReasonOnly, Body()], ledger: LedgerDep, actor: ActorDep,
                  request: Request) -> dict[str, Any]:
    """Lock the whole database: every clinical write and signature is 409 until unlocked."""
    by = author_of(actor, request)
    ledger.lock_database(by, body.reason)
    log.info("database_locked", user=actor.username)
    return study_view(ledger)


@router.post("/study/unlock", status_code=201, response_model=StudyOut,
             responses=CONFLICT_409)
def unlock_database(body: Annotated[ReasonOnly, Body()], ledger: LedgerDep, actor: ActorDep,
                    request: Request) -> dict[str, Any]:
    """Unlock the database, with the reason (e.g. a query found after lock)."""
    by = author_of(actor, request)
    ledger.unlock_database(by, body.reason)
    log.info("database_unlocked", user=actor.username)
    return study_view(ledger)


@router.post("/participants/{participant_id}/lock", status_code=201,
             response_model=RecordedEventOut, responses=merged(PARTICIPANT_404, CONFLICT_409))
def lock_participant(participant_id: ParticipantId, body: Annotated[ReasonOnly, Body()],
                     ledger: LedgerDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Lock one participant's data: clinical writes to it are 409 until unlocked."""
    visible_participant(ledger, actor, participant_id, None, "lock_data")
    recorded = ledger.lock_participant(participant_id, author_of(actor, request), body.reason,
                                       _today())
    log.info("participant_locked", user=actor.username, participant=participant_id)
    return recorded.as_dict()


@router.post("/participants/{participant_id}/unlock", status_code=201,
             response_model=RecordedEventOut, responses=merged(PARTICIPANT_404, CONFLICT_409))
def unlock_participant(participant_id: ParticipantId, body: Annotated[ReasonOnly, Body()],
                       ledger: LedgerDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Unlock one participant's data, with the reason."""
    visible_participant(ledger, actor, participant_id, None, "lock_data")
    recorded = ledger.unlock_participant(participant_id, author_of(actor, request), body.reason,
                                         _today())
    log.info("participant_unlocked", user=actor.username, participant=participant_id)
    return recorded.as_dict()



@router.post("/participants/{participant_id}/transfer", status_code=201,
             response_model=RecordedEventOut, responses=merged(PARTICIPANT_404, CONFLICT_409))
def transfer_participant(participant_id: ParticipantId, body: Annotated[SiteTransfer, Body()],
                         ledger: LedgerDep, actor: ActorDep, request: Request
                         ) -> dict[str, Any]:
    """Move a participant's care and data entry to another site (data managers): recorded as
    its own event naming both sites; the old site's staff no longer see the participant."""
    visible_participant(ledger, actor, participant_id, None, "transfer_participant")
    recorded = ledger.transfer_participant(participant_id, body.to_site,
                                           author_of(actor, request), body.reason, _today())
    log.info("participant_transferred", user=actor.username, participant=participant_id,
             to_site=body.to_site)
    return recorded.as_dict()
