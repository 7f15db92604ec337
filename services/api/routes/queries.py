"""Queries (discrepancy notes): open, answer, close, re-open, cancel; list and count them.

A query belongs to its participant's site: whoever may not read that site gets the same 404
as for a query that does not exist, and a candidate query (not yet issued) is shown only to
those who may raise queries. Every step is a ledger event (domain/queries.py), so every read
takes `as_of` and answers as the ledger stood then. Edit checks open and close system
queries by themselves (services/monitoring/policies.py); people move them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from domain.ledger_event import Author
from domain.queries import Query as LedgerQuery
from services.access import Action, authorize, scope_of
from services.api.deps import ActorDep, AsOfDep, LedgerDep, author_of
from services.api.query_schemas import (
    AnswerIn,
    OpenQueryIn,
    QueryListOut,
    QueryOut,
    QuerySummaryOut,
    ReopenIn,
    StateName,
    StepIn,
)
from services.api.responses import CONFLICT_409, PARTICIPANT_404, Responses, merged
from services.api.routes.audit import SITE_ID
from services.api.routes.participants import visible_participant
from services.api.scope import readable_sites
from services.application import Actor, TrialLedger
from services.monitoring.queries import (
    Seen,
    all_queries,
    change_query,
    check_correction,
    moment,
    open_query,
    query_at,
    seen,
    summary,
)

router = APIRouter(prefix="/api/v1/queries", tags=["queries"])

QueryId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                      r"[0-9a-f]{12}$", description="The query's id.")]
QUERY_404: Responses = {404: {"description": (
    "No such query (as of as_of), or one on a participant of a site you may not read, or a "
    "candidate you may not see: the same answer.")}}


def _not_found(query_id: str, as_of: str | None) -> HTTPException:
    when = f" as of {as_of}" if as_of else ""
    return HTTPException(404, f"query {query_id} does not exist{when} or is not visible to you")


def _shown(ledger: TrialLedger, actor: Actor, query: LedgerQuery | None, query_id: str,
           as_of: str | None) -> dict[str, Any]:
    """The query's view if the actor may see it (as of `as_of`), else the 404."""
    shown = None if query is None else seen(ledger, query, as_of)
    if shown is None or not may_see(actor, shown.site_id, shown.query.state):
        raise _not_found(query_id, as_of)
    return shown.view(moment(as_of))


def may_see(actor: Actor, site: str, state: str) -> bool:
    """Whether the actor sees a query of `site` in `state` (a candidate only those who may
    raise queries; the web app's participants list counts by this rule too)."""
    readable = readable_sites(actor)
    if readable is not None and site not in readable:
        return False
    return state != "candidate" or scope_of(actor.role, "raise_query") is not None


@router.post("", status_code=201, response_model=QueryOut,
             responses=merged(PARTICIPANT_404, CONFLICT_409))
def open_a_query(body: OpenQueryIn, request: Request, response: Response, ledger: LedgerDep,
                 actor: ActorDep) -> dict[str, Any]:
    """Open a query on one recorded entry of a participant (and optionally one field of its
    data). A monitor opens queries at their own sites, a data manager at every site."""
    participant = visible_participant(ledger, actor, body.participant_id, None, "raise_query")
    assert participant is not None
    query = open_query(ledger, participant, event_id=body.event_id, field=body.field,
                       text=body.text, by=author_of(actor, request), candidate=body.candidate)
    response.headers["Location"] = f"/api/v1/queries/{query.query_id}"
    return _shown(ledger, actor, query, query.query_id, None)


def _step(request: Request, ledger: TrialLedger, actor: Actor, query_id: str, action: Action,
          change: Callable[[LedgerQuery, Author, str], None],
          check: Callable[[LedgerQuery], None] = lambda query: None) -> dict[str, Any]:
    """One step on a query the actor may see, if their role may take it at its site."""
    query = query_at(ledger, query_id)
    shown = None if query is None else seen(ledger, query, None)
    if shown is None or not may_see(actor, shown.site_id, shown.query.state):
        raise _not_found(query_id, None)
    authorize(actor.role, actor.sites, action, shown.site_id)
    check(shown.query)
    by = author_of(actor, request)
    try:
        changed = change_query(ledger, query_id, lambda q: change(q, by, shown.site_id))
    except LookupError:
        raise _not_found(query_id, None) from None
    return _shown(ledger, actor, changed, query_id, None)


STEP_RESPONSES = merged(QUERY_404, CONFLICT_409)


@router.post("/{query_id}/issue", response_model=QueryOut, responses=STEP_RESPONSES)
def issue(query_id: QueryId, request: Request, ledger: LedgerDep, actor: ActorDep
          ) -> dict[str, Any]:
    """A candidate query is issued: from now on the site sees it (open)."""
    return _step(request, ledger, actor, query_id, "raise_query",
                 lambda q, by, site: q.issue(by, site))


@router.post("/{query_id}/answer", response_model=QueryOut, responses=STEP_RESPONSES)
def answer(query_id: QueryId, body: AnswerIn, request: Request, ledger: LedgerDep,
           actor: ActorDep) -> dict[str, Any]:
    """The site answers an open query, citing the correction (or void) of the queried entry
    that answers it when there is one."""
    def check(query: LedgerQuery) -> None:
        if body.correction_event_id is not None:
            check_correction(ledger.participant(query.participant_id), query,
                             body.correction_event_id)
    return _step(request, ledger, actor, query_id, "answer_query",
                 lambda q, by, site: q.answer(body.text, body.correction_event_id, by, site),
                 check)


@router.post("/{query_id}/close", response_model=QueryOut, responses=STEP_RESPONSES)
def close(query_id: QueryId, request: Request, ledger: LedgerDep, actor: ActorDep,
          body: StepIn | None = None) -> dict[str, Any]:
    """The query is settled (open or answered -> closed)."""
    text = body.text if body else None
    return _step(request, ledger, actor, query_id, "raise_query",
                 lambda q, by, site: q.close(text, by, site))


@router.post("/{query_id}/reopen", response_model=QueryOut, responses=STEP_RESPONSES)
def reopen(query_id: QueryId, body: ReopenIn, request: Request, ledger: LedgerDep,
           actor: ActorDep) -> dict[str, Any]:
    """The answer does not settle the query: back to open, with why."""
    return _step(request, ledger, actor, query_id, "raise_query",
                 lambda q, by, site: q.reopen(body.text, by, site))


@router.post("/{query_id}/cancel", response_model=QueryOut, responses=STEP_RESPONSES)
def cancel(query_id: QueryId, request: Request, ledger: LedgerDep, actor: ActorDep,
           body: StepIn | None = None) -> dict[str, Any]:
    """The query was raised in error (candidate, open or answered -> cancelled)."""
    text = body.text if body else None
    return _step(request, ledger, actor, query_id, "raise_query",
                 lambda q, by, site: q.cancel(text, by, site))


@router.get("", response_model=QueryListOut)
def list_queries(
    ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None,
    site_id: Annotated[str | None, Query(pattern=SITE_ID, examples=["S01"],
                                         description="Queries of this site.")] = None,
    participant_id: Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")] = None,
    state: Annotated[StateName | None, Query(description="Queries in this state.")] = None,
    min_age_days: Annotated[int | None, Query(
        ge=0, le=36500, description="Queries opened at least this many days before as_of "
                                    "(or now).")] = None,
) -> dict[str, Any]:
    """The queries you may see, oldest first, as they stood at as_of; the filters combine. A
    site you may not read answers as a site with no queries."""
    now = moment(as_of)
    views = [shown.view(now) for shown in visible_queries(
        ledger, actor, as_of, site_id=site_id, participant_id=participant_id, state=state,
        min_age_days=min_age_days)]
    return {"queries": views, "count": len(views), "as_of": as_of}


def visible_queries(ledger: TrialLedger, actor: Actor, as_of: str | None, *,
                    site_id: str | None = None, participant_id: str | None = None,
                    state: str | None = None, min_age_days: int | None = None) -> list[Seen]:
    """The queries `GET /api/v1/queries` lists for these filters, oldest first (the web
    app's monitoring page shows them a page at a time)."""
    now = moment(as_of)
    found = []
    for shown in all_queries(ledger, as_of):
        if not may_see(actor, shown.site_id, shown.query.state):
            continue
        if ((site_id is not None and shown.site_id != site_id)
                or (participant_id is not None and shown.query.participant_id != participant_id)
                or (state is not None and shown.query.state != state)
                or (min_age_days is not None and shown.age_days(now) < min_age_days)):
            continue
        found.append(shown)
    return sorted(found, key=lambda shown: (shown.recorded_at.get(1) or "",
                                            shown.query.query_id))


@router.get("/summary", response_model=QuerySummaryOut)
def query_summary(ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None
                  ) -> dict[str, Any]:
    """For a monitor's visit report: per site you may read, how many queries in each state,
    how long the active ones have waited, and how many an edit check opened."""
    visible = [shown for shown in all_queries(ledger, as_of)
               if may_see(actor, shown.site_id, shown.query.state)]
    return {"sites": summary(visible, moment(as_of)), "as_of": as_of}


@router.get("/{query_id}", response_model=QueryOut, responses=QUERY_404)
def read_query(query_id: QueryId, ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None
               ) -> dict[str, Any]:
    """One query with its whole history, as it stood at as_of."""
    return _shown(ledger, actor, query_at(ledger, query_id, as_of), query_id, as_of)
