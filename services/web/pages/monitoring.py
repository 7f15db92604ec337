"""Monitoring: the queries (`GET /api/v1/queries`, with its filters and its per-site summary)
and, for those who may read the audit trail, the recorded audit-trail reviews."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.access import AccessDenied, authorize
from services.api.deps import LedgerDep
from services.api.routes.audit import SITE_ID
from services.api.routes.audit_review import list_audit_reviews
from services.api.routes.queries import list_queries, query_summary
from services.web.pages.audit import PARTICIPANT
from services.web.params import WebAsOf, form_filter
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)

STATES = ("candidate", "open", "answered", "closed", "cancelled")
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, ledger: LedgerDep, actor: WebActorDep,
                    as_of: WebAsOf = None, participant_id: Text = None, site_id: Text = None,
                    state: Text = None) -> HTMLResponse:
    chosen = {
        "participant_id": form_filter("participant_id", participant_id, PARTICIPANT,
                                      "a participant id such as HCC-01-001"),
        "site_id": form_filter("site_id", site_id, SITE_ID, "a site id such as S01"),
        "state": form_filter("state", state, "^(" + "|".join(STATES) + ")$",
                             "one of " + ", ".join(STATES)),
    }
    queries = list_queries(ledger, actor, as_of, chosen["site_id"], chosen["participant_id"],
                           chosen["state"], None)  # type: ignore[arg-type]
    reviews: list[dict[str, Any]] | None = None
    try:
        authorize(actor.role, actor.sites, "read_audit")
        reviews = list_audit_reviews(ledger, actor, as_of)["reviews"]
    except AccessDenied:
        reviews = None
    return page(request, "monitoring.html", actor=actor, section="monitoring",
                queries=queries, summary=query_summary(ledger, actor, as_of)["sites"],
                reviews=reviews, filters=chosen, states=STATES, as_of=as_of)
