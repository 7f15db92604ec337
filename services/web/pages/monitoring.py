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
from services.api.routes.queries import visible_queries
from services.monitoring.queries import moment, summary
from services.web.pages.audit import PARTICIPANT
from services.web.params import WebAfter, WebAsOf, form_filter
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)

STATES = ("candidate", "open", "answered", "closed", "cancelled")
PAGE_SIZE = 100
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, ledger: LedgerDep, actor: WebActorDep,
                    as_of: WebAsOf = None, after: WebAfter = 0, participant_id: Text = None,
                    site_id: Text = None, state: Text = None) -> HTMLResponse:
    chosen = {
        "participant_id": form_filter("participant_id", participant_id, PARTICIPANT,
                                      "a participant id such as HCC-01-001"),
        "site_id": form_filter("site_id", site_id, SITE_ID, "a site id such as S01"),
        "state": form_filter("state", state, "^(" + "|".join(STATES) + ")$",
                             "one of " + ", ".join(STATES)),
    }
    now = moment(as_of)
    every = visible_queries(ledger, actor, as_of)
    found = [q for q in every
             if (chosen["site_id"] is None or q.site_id == chosen["site_id"])
             and (chosen["participant_id"] is None
                  or q.query.participant_id == chosen["participant_id"])
             and (chosen["state"] is None or q.query.state == chosen["state"])]
    shown = [q.view(now) for q in found[after:after + PAGE_SIZE]]
    reviews: list[dict[str, Any]] | None = None
    try:
        authorize(actor.role, actor.sites, "read_audit")
        reviews = list_audit_reviews(ledger, actor, as_of)["reviews"]
    except AccessDenied:
        reviews = None
    return page(request, "monitoring.html", actor=actor, section="monitoring",
                queries=shown, count=len(found), after=after, page_size=PAGE_SIZE,
                summary=summary(every, now), reviews=reviews,
                filters=chosen, given={k: v for k, v in chosen.items() if v is not None},
                states=STATES, as_of=as_of)
