"""The participants list: site, status, best overall response per criterion, open queries."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from domain.protocol import CRITERIA
from services.api.deps import LedgerDep
from services.api.routes.analysis import visible_outcomes
from services.api.routes.participants import list_participants
from services.api.routes.queries import may_see
from services.api.scope import readable_sites
from services.monitoring.queries import all_queries
from services.web.params import WebAsOf
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)

ACTIVE_QUERY_STATES = ("open", "answered")


@router.get("/participants", response_class=HTMLResponse)
def participants_page(request: Request, ledger: LedgerDep, actor: WebActorDep,
                      as_of: WebAsOf = None) -> HTMLResponse:
    """`GET /api/v1/participants` with, per participant, the confirmed best overall response
    under each criterion at today's date (as `/endpoints` counts it) and the queries still
    waiting (open or answered) that `GET /api/v1/queries` would list, all as of the chosen
    recorded time."""
    listed = list_participants(request, ledger, actor, as_of)
    today = (datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)).date()
    outcomes = {o.participant_id: o for o in
                visible_outcomes(request, ledger, readable_sites(actor), as_of)}
    waiting = Counter(shown.query.participant_id for shown in all_queries(ledger, as_of)
                      if shown.query.state in ACTIVE_QUERY_STATES
                      and may_see(actor, shown.site_id, shown.query.state))
    rows: list[dict[str, Any]] = []
    for summary in listed["participants"]:
        outcome = outcomes.get(summary["participant_id"])
        responses = {c: outcome.summary(c, today).best_overall_response if outcome else None
                     for c in CRITERIA}
        rows.append({**summary, "bor": responses,
                     "open_queries": waiting.get(summary["participant_id"], 0)})
    return page(request, "participants.html", actor=actor, section="participants", rows=rows,
                criteria=CRITERIA, as_of=as_of, scope=listed["scope"], note=listed.get("note"))
