"""The audit trail with its filters: `GET /api/v1/audit-trail`, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.api.deps import LedgerDep
from services.api.routes.audit import ROLE, SITE_ID, audit_trail
from services.web.params import WebAfter, WebAsOf, form_filter
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)

PAGE_SIZE = 100
Text = Annotated[str | None, Query(max_length=64)]
PARTICIPANT = r"^[A-Z0-9][A-Z0-9-]{1,31}$"
EVENT_TYPE = r"^[A-Za-z]{1,64}$"
USER = r"^[^\x00-\x1f\x7f]{1,64}$"
TIME = r"^[0-9T:.+\-Z ]{4,64}$"


@router.get("/audit", response_class=HTMLResponse)
def audit_page_view(request: Request, ledger: LedgerDep, actor: WebActorDep,
                    as_of: WebAsOf = None, after: WebAfter = 0, participant_id: Text = None,
                    user: Text = None, role: Text = None, site_id: Text = None,
                    event_type: Text = None, recorded_from: Text = None,
                    recorded_to: Text = None) -> HTMLResponse:
    filters = {
        "participant_id": form_filter("participant_id", participant_id, PARTICIPANT,
                                      "a participant id such as HCC-01-001"),
        "user": form_filter("user", user, USER, "a username"),
        "role": form_filter("role", role, ROLE, "a role"),
        "site_id": form_filter("site_id", site_id, SITE_ID, "a site id such as S01"),
        "event_type": form_filter("event_type", event_type, EVENT_TYPE, "an event type"),
        "recorded_from": form_filter("recorded_from", recorded_from, TIME, "a recorded time"),
        "recorded_to": form_filter("recorded_to", recorded_to, TIME, "a recorded time"),
    }
    answer = audit_trail(request, ledger, actor, as_of, after, PAGE_SIZE, **filters)
    given = {k: v for k, v in filters.items() if v is not None}
    return page(request, "audit.html", actor=actor, section="audit", answer=answer,
                filters=filters, given=given, as_of=as_of, after=after, page_size=PAGE_SIZE)
