"""`GET /api/v1/endpoints/curves`: the Kaplan-Meier curves behind `GET /api/v1/endpoints`.

Same query (criteria, cutoff, as_of), same participants (enrolled by the cutoff at the sites
the caller may read) and the same fit, so the curves' medians, n and events are the report's.
The per-participant times come from the outcome read model (services/study_outcomes.py), as
the report's do."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Query, Request

from domain.analysis.curves import RISK_TABLE_EVERY_DEFAULT, RISK_TABLE_EVERY_MAX, survival_curve
from domain.analysis.endpoints import ParticipantSummary, rfc3339
from domain.protocol import Criterion
from services.api.curve_schemas import CurvesOut
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.api.routes.analysis import CriteriaDep, Cutoff, _moment, visible_outcomes
from services.api.scope import empty_state, readable_sites, scope, where
from services.application import TrialLedger
from services.study_outcomes import ParticipantOutcomes

router = APIRouter(prefix="/api/v1", tags=["analysis"])

ENDPOINTS = ("os", "pfs", "dor")


class Summaries(NamedTuple):
    """What the curves are drawn from: how many are enrolled at the caller's sites as of
    as_of, and the summaries of those enrolled by the cutoff."""

    enrolled: int
    by_cutoff: list[ParticipantSummary]


def _summaries(request: Request, ledger: TrialLedger, sites: tuple[str, ...] | None,
               as_of: str | None, criteria: Criterion, cutoff: date) -> Summaries:
    """The summaries `/endpoints` counts, from the outcome read model."""
    return summaries_of(visible_outcomes(request, ledger, sites, as_of), criteria, cutoff)


def summaries_of(participants: list[ParticipantOutcomes], criteria: Criterion,
                 cutoff: date) -> Summaries:
    """The summaries of those of `participants` enrolled by the cutoff."""
    return Summaries(len(participants), [
        p.summary(criteria, cutoff) for p in participants if p.enrolled_on <= cutoff])


def curves_body(summaries: list[ParticipantSummary], every: int) -> dict[str, Any]:
    """OS, PFS and DOR over the treated with a time to event, as the endpoints report fits."""
    treated = [s for s in summaries if s.treated]
    return {endpoint: survival_curve(
        [t for s in treated if (t := getattr(s, endpoint)) is not None],
        risk_table_every=every).to_dict() for endpoint in ENDPOINTS}


def parse_risk_table_every(
    risk_table_every: Annotated[int, Query(
        ge=1, le=RISK_TABLE_EVERY_MAX,
        description="Days between the rows of each curve's numbers-at-risk table "
                    f"(1 to {RISK_TABLE_EVERY_MAX}).",
        examples=[RISK_TABLE_EVERY_DEFAULT, 30],
    )] = RISK_TABLE_EVERY_DEFAULT,
) -> int:
    """A dependency, like criteria and cutoff, so the known parameters are listed in the
    order the route documents them."""
    return risk_table_every


RiskTableEvery = Annotated[int, Depends(parse_risk_table_every)]


@router.get("/endpoints/curves", response_model=CurvesOut)
def read_endpoint_curves(request: Request, ledger: LedgerDep, actor: ActorDep,
                         criteria: CriteriaDep, cutoff: Cutoff = None, as_of: AsOfDep = None,
                         risk_table_every: RiskTableEvery = RISK_TABLE_EVERY_DEFAULT,
                         ) -> dict[str, Any]:
    """Kaplan-Meier step points (with log-log 95% bands), censoring days and numbers at risk
    for OS, PFS and DOR under one criterion, at a clinical cutoff and recorded time, over the
    participants enrolled by the cutoff at the sites you may read (`scope`): the curves
    behind `GET /api/v1/endpoints` with the same query."""
    moment = _moment(as_of)
    sites = readable_sites(actor)
    day = cutoff or moment.date()
    found = _summaries(request, ledger, sites, as_of, criteria, day)
    covered = len(found.by_cutoff)
    answered_as_of = rfc3339(moment)
    answered = scope(sites, enrolled=found.enrolled, covered=covered, as_of=answered_as_of,
                     cutoff=day, which="those enrolled by the cutoff")
    return {"criteria": criteria, "cutoff": day.isoformat(), "as_of": answered_as_of,
            "curves": curves_body(found.by_cutoff, risk_table_every), "scope": answered,
            **empty_state(request.app.state.engine, as_of, covered > 0,
                          f"no participant at {where(sites)} was enrolled by the cutoff "
                          f"{day.isoformat()}")}
