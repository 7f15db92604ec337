"""Pages from Jinja2 templates, escaped by default: every value a page shows came from a client
once (a participant id, a reason, a full name), so none is ever trusted as markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.access import ROLE_TITLES
from services.application import Actor
from services.web.session import csrf_token

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

NAVIGATION = (
    ("participants", "/app/participants", "Participants"),
    ("endpoints", "/app/endpoints", "Endpoints"),
    ("audit", "/app/audit", "Audit trail"),
    ("monitoring", "/app/monitoring", "Monitoring"),
    ("ledger", "/app/ledger", "Ledger"),
    ("report", "/app/report", "Study report"),
)


def page(request: Request, template: str, *, actor: Actor | None, section: str = "",
         status: int = 200, **context: Any) -> HTMLResponse:
    """The template rendered as a whole page, or, for an htmx request naming a fragment
    (`HX-Target`), the same template's `main` block alone: one template, two sizes."""
    partial = request.headers.get("hx-request") == "true"
    html = environment.get_template(template).render(
        request=request, actor=actor, section=section, partial=partial,
        navigation=NAVIGATION, role_title=ROLE_TITLES.get(actor.role, actor.role) if actor
        else "", csrf=csrf_token(request), **context)
    return HTMLResponse(html, status_code=status, headers={"Vary": "HX-Request"})
