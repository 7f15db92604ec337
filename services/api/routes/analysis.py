"""Study-wide analysis reads: endpoint estimates and safety tables at a clinical cutoff."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from domain.errors import FieldProblem, InvalidEntry
from domain.outcomes import study_endpoints, study_safety
from domain.participant import Participant
from domain.protocol import CRITERIA, Criterion
from infra.ledger.chain import parse_recorded_at
from services.access import visible_sites
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.application import Actor, TrialLedger

router = APIRouter(prefix="/api/v1", tags=["analysis"])

ALLOWED = " or ".join(f"'{criterion}'" for criterion in CRITERIA)


def parse_criteria(
    criteria: Annotated[str | None, Query(
        description=f"Response criteria: {ALLOWED} (URL-encoded: RECIST%201.1).",
        examples=["mRECIST"],
    )] = None,
) -> Criterion:
    """Required, and one of the trial's criteria; a 422 names the allowed values."""
    if criteria is None:
        raise InvalidEntry(f"criteria is required: give {ALLOWED}",
                           [FieldProblem("query.criteria", f"required; one of {ALLOWED}")])
    for criterion in CRITERIA:
        if criteria == criterion:
            return criterion
    raise InvalidEntry(f"criteria {criteria!r} is not known: give {ALLOWED}",
                       [FieldProblem("query.criteria", f"must be {ALLOWED}")])


CriteriaDep = Annotated[Criterion, Depends(parse_criteria)]
def parse_cutoff(
    ledger: LedgerDep,
    cutoff: Annotated[str | None, Query(
        description="Clinical cutoff: a date (YYYY-MM-DD) or the name of a cutoff a data "
                    "manager declared (GET /api/v1/study). Nothing dated after it is an "
                    "outcome. Default: the date of as_of (today).",
        examples=["2026-06-30", "primary-analysis"],
    )] = None,
) -> date | None:
    if cutoff is None:
        return None
    try:
        return date.fromisoformat(cutoff)
    except ValueError:
        declared = ledger.declared_cutoff(cutoff)
    if declared is None:
        raise InvalidEntry(
            f"cutoff {cutoff!r} is neither a date (YYYY-MM-DD) nor a declared cutoff",
            [FieldProblem("query.cutoff", "a date or a declared cutoff name")])
    return declared


Cutoff = Annotated[date | None, Depends(parse_cutoff)]


def visible_participants(ledger: TrialLedger, actor: Actor, as_of: str | None
                         ) -> list[Participant]:
    """Participants enrolled as of `as_of` at the sites the actor may read."""
    sites = visible_sites(actor.role, actor.sites, "read_clinical")
    chosen = []
    for participant_id, _ in ledger.participant_ids(as_of=as_of):
        participant = ledger.participant(participant_id, as_of=as_of)
        if sites is None or participant.site_id in sites:
            chosen.append(participant)
    return chosen


def _moment(as_of: str | None) -> datetime:
    return parse_recorded_at(as_of) if as_of is not None else datetime.now(UTC)


@router.get("/endpoints")
def read_endpoints(ledger: LedgerDep, actor: ActorDep, criteria: CriteriaDep,
                   cutoff: Cutoff = None, as_of: AsOfDep = None) -> dict[str, Any]:
    """ORR, DCR, DOR, PFS and OS under one criterion, at a clinical cutoff and recorded time."""
    moment = _moment(as_of)
    participants = visible_participants(ledger, actor, as_of)
    return study_endpoints(participants, criteria, cutoff or moment.date(), moment)


@router.get("/safety")
def read_safety(ledger: LedgerDep, actor: ActorDep, cutoff: Cutoff = None,
                as_of: AsOfDep = None) -> dict[str, Any]:
    """Treatment-emergent adverse event tables (CTCAE v5), per term at the worst grade."""
    moment = _moment(as_of)
    participants = visible_participants(ledger, actor, as_of)
    return study_safety(participants, cutoff or moment.date(), moment)
