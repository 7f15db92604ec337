"""The web app under /app: server-rendered pages over the API's read models.

`install_web(app)` adds the pages, the static assets (served from the package: nothing is
fetched from elsewhere, so the app works on an isolated network) and the HTML face of the
API's errors: a refusal under /app is the same status and message as the API's, as a page;
a missing or revoked session is a redirect to the sign-in form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.api.deps import KnownQueryOnly
from services.web.pages import (
    audit,
    casebook,
    endpoints,
    ledger,
    monitoring,
    participants,
    report,
    sign_in,
)
from services.web.render import page
from services.web.session import SignInRequired, sign_in_location

STATIC = Path(__file__).parent / "static"
PAGES = (sign_in, participants, casebook, audit, monitoring, ledger, endpoints, report)


def install_web(app: FastAPI) -> None:
    app.state.problem_page = problem_page
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    app.mount("/app/static", StaticFiles(directory=STATIC), name="web-static")
    for module in PAGES:
        app.include_router(module.router, dependencies=[KnownQueryOnly])

    @app.get("/app", include_in_schema=False)
    @app.get("/app/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/app/participants", status_code=303)


def problem_page(request: Request, problem: dict[str, Any], answer: Response) -> Response:
    """The API's problem as a page, with its status; a 401 is the sign-in form."""
    if answer.status_code == 401:
        return _to_sign_in(request)
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "retry-after"}
    response = page(request, "problem.html", actor=None, status=answer.status_code,
                    problem=problem)
    response.headers.update(headers)
    return response


async def _sign_in_required(request: Request, exc: SignInRequired) -> Response:
    return _to_sign_in(request, exc.next_path)


def _to_sign_in(request: Request, location: str | None = None) -> Response:
    where = location or sign_in_location(request)
    if request.headers.get("hx-request") == "true":  # htmx follows HX-Redirect, not a 303
        return Response(status_code=204, headers={"HX-Redirect": where})
    return RedirectResponse(where, status_code=303)

