"""Study-wide analysis reads: endpoint estimates and safety tables at a clinical cutoff."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from domain.errors import FieldProblem, InvalidEntry
from domain.protocol import CRITERIA, Criterion
from infra.ledger.chain import parse_recorded_at
from services.api.analysis_view import safety_body
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.api.scope import empty_state, readable_sites, scope, where
from services.api.study_schemas import EndpointsOut, SafetyOut
from services.study_outcomes import ParticipantOutcomes, endpoints, safety_report, study_outcomes

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


def _moment(as_of: str | None) -> datetime:
    return parse_recorded_at(as_of) if as_of is not None else datetime.now(UTC)


def visible_outcomes(request: Request, ledger: LedgerDep, sites: tuple[str, ...] | None,
                     as_of: str | None) -> list[ParticipantOutcomes]:
    """The outcomes of the participants enrolled as of `as_of` at `sites` (None: every site),
    from the outcome read model."""
    return study_outcomes(ledger, request.app.state.engine, sites, as_of)


@router.get("/endpoints", response_model=EndpointsOut)
def read_endpoints(request: Request, ledger: LedgerDep, actor: ActorDep, criteria: CriteriaDep,
                   cutoff: Cutoff = None, as_of: AsOfDep = None) -> dict[str, Any]:
    """ORR, DCR, DOR, PFS and OS under one criterion, at a clinical cutoff and recorded time,
    over the participants enrolled by the cutoff at the sites you may read (`scope`)."""
    sites = readable_sites(actor)
    return endpoints_answer(request, sites, visible_outcomes(request, ledger, sites, as_of),
                            criteria, cutoff, as_of)


def endpoints_answer(request: Request, sites: tuple[str, ...] | None,
                     participants: list[ParticipantOutcomes], criteria: Criterion,
                     cutoff: date | None, as_of: str | None) -> dict[str, Any]:
    """The body of `GET /endpoints` over `participants` (what `visible_outcomes` gave for
    `sites` and `as_of`): a page that shows several reads reads the participants once."""
    moment = _moment(as_of)
    day = cutoff or moment.date()
    report = endpoints(participants, criteria, day, moment)
    covered = report["population"]["enrolled"]
    answered = scope(sites, enrolled=len(participants), covered=covered, as_of=report["as_of"],
                     cutoff=day, which="those enrolled by the cutoff")
    return {**report, "scope": answered,
            **empty_state(request.app.state.engine, as_of, covered > 0,
                          f"no participant at {where(sites)} was enrolled by the cutoff "
                          f"{day.isoformat()}")}


@router.get("/safety", response_model=SafetyOut)
def read_safety(request: Request, ledger: LedgerDep, actor: ActorDep, cutoff: Cutoff = None,
                as_of: AsOfDep = None) -> dict[str, Any]:
    """Treatment-emergent adverse event tables (CTCAE v5), per term at the worst grade, over
    the participants treated by the cutoff at the sites you may read (`scope`)."""
    sites = readable_sites(actor)
    return safety_answer(request, sites, visible_outcomes(request, ledger, sites, as_of),
                         cutoff, as_of)


def safety_answer(request: Request, sites: tuple[str, ...] | None,
                  participants: list[ParticipantOutcomes], cutoff: date | None,
                  as_of: str | None) -> dict[str, Any]:
    """The body of `GET /safety` over `participants`, as `endpoints_answer`."""
    moment = _moment(as_of)
    day = cutoff or moment.date()
    report = safety_body(safety_report(participants, day), day, moment)
    treated = report["treated"]
    answered = scope(sites, enrolled=len(participants), covered=treated, as_of=report["as_of"],
                     cutoff=day, which="those treated by the cutoff")
    return {**report, "scope": answered,
            **empty_state(request.app.state.engine, as_of, treated > 0,
                          f"no participant at {where(sites)} was treated by the cutoff "
                          f"{day.isoformat()}")}
