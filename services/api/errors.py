"""Every error as application/problem+json, mapped from typed exceptions in one place."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    FieldProblem,
    InvalidEntry,
    RuleViolation,
    UnknownAccount,
    UnknownParticipant,
)
from domain.events import CATALOGUE
from infra.logging import get_logger
from infra.security.throttle import EventBudget
from services.access import AccessDenied
from services.access_refusals import NotVisible, note_refusal
from services.api.deps import dependants
from services.authentication import AuthenticationFailed

PROBLEM_JSON = "application/problem+json"
log = get_logger("trial_ledger.api")


class ProblemResponse(JSONResponse):
    """problem+json written as ASCII: a location or message that echoes a client's text
    (even a lone surrogate, which UTF-8 cannot encode) is escaped, never a second error."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            type_: str = "about:blank", headers: dict[str, str] | None = None,
            rule: str | None = None) -> JSONResponse:
    """A problem+json answer; `rule` (a 409's broken rule) is a top-level field."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail,
                            "errors": errors or []}
    if rule is not None:
        body["rule"] = rule
    return ProblemResponse(body, status_code=status, headers=headers)


def problem_of(exc: Exception) -> dict[str, Any] | None:
    """The problem+json body of a refusal the domain or the access table raised (None: not
    one of those), as its exception handler answers it; the batch route answers each
    refused item with it."""
    body: dict[str, Any]
    if isinstance(exc, InvalidEntry):
        body = {"type": "about:blank", "title": "Invalid entry", "status": 422,
                "detail": exc.message, "errors": _problems(exc.problems)}
    elif isinstance(exc, RuleViolation):
        body = {"type": "about:blank", "title": "Conflicts with the record", "status": 409,
                "detail": exc.message, "errors": _problems(exc.problems), "rule": exc.rule}
    elif isinstance(exc, UnknownParticipant):
        body = {"type": "about:blank", "title": "Unknown participant", "status": 404,
                "detail": exc.message, "errors": []}
    elif isinstance(exc, AccessDenied):
        body = {"type": "about:blank", "title": "Forbidden", "status": 403,
                "detail": str(exc), "errors": []}
    else:
        return None
    return body


def _problems(problems: list[FieldProblem]) -> list[dict[str, Any]]:
    return [{"loc": p.loc, "msg": p.msg} for p in problems]


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        # Drop the discriminated-union tag FastAPI puts after "body".
        if where == "body" and rest and rest[0][:1].isupper():
            rest = rest[1:]
        return ".".join(rest) if where == "body" else f"{where}.{'.'.join(rest)}"
    return ".".join(parts)


EVENT_TYPES = ", ".join(CATALOGUE)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def form_expected(request: Request) -> JSONResponse | None:
    """415 for a route that takes a form (the sign-in) sent anything else, e.g. JSON: saying
    how to send it, instead of "Field required" for each of the form's fields."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    fields = [f for d in dependants(dependant) for f in d.body_params
              if isinstance(f.field_info, params.Form)]
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not fields or content_type in FORM_TYPES:
        return None
    names = [f.alias for f in fields if f.field_info.is_required()]
    example = " ".join(f"--data-urlencode '{name}=...'" for name in names)
    msg = (f"send a form (Content-Type application/x-www-form-urlencoded) with "
           f"{' and '.join(names)}, e.g. curl {example}; not "
           f"{content_type or 'a body without a Content-Type'}")
    return problem(415, "Unsupported media type", f"this route takes a form: {msg}",
                   [{"loc": "body", "msg": msg}])


def _message(error: dict[str, Any]) -> str:
    """pydantic's message, or a more helpful one where a client needs to know more."""
    if error["type"] == "union_tag_not_found" and error.get("ctx", {}).get(
            "discriminator") == "'type'":
        return f"Field required: the event type, one of {EVENT_TYPES}"
    return str(error["msg"])


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for e in exc.errors():
        loc = _location(e["loc"])
        if e["type"] == "json_invalid":
            loc = f"body (character {e['loc'][-1]})"
        elif not loc and e["type"].startswith("union_tag"):
            loc = "type"
        errors.append({"loc": loc, "msg": _message(e)})
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        not_a_form = form_expected(request)
        if not_a_form is not None:
            return not_a_form
        errors = _validation_errors(exc)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(400, "Malformed JSON",
                           "the request body is not valid JSON: " + "; ".join(
                               f"{e['msg']} at {e['loc']}" for e in errors), errors)
        detail = "; ".join(f"{e['loc'] or 'body'}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", detail, errors)

    @app.exception_handler(InvalidEntry)
    @app.exception_handler(RuleViolation)
    @app.exception_handler(UnknownParticipant)
    @app.exception_handler(AccessDenied)
    async def _refused(_: Request, exc: Exception) -> JSONResponse:
        body = problem_of(exc)
        assert body is not None
        return ProblemResponse(body, status_code=body["status"])

    @app.exception_handler(NotVisible)
    async def _not_visible(request: Request, exc: NotVisible) -> JSONResponse:
        """The same 404 as an unknown participant; the attempt is noted for the review."""
        await run_in_threadpool(note_refusal, request.app.state.ledger, _refusal_budget(request),
                                exc, method=request.method, path=request.url.path,
                                request_id=getattr(request.state, "request_id", None),
                                now=time.time(),
                                record=request.app.state.settings.record_access_refusals)
        body = problem_of(exc)
        assert body is not None
        return ProblemResponse(body, status_code=body["status"])

    @app.exception_handler(UnknownAccount)
    async def _unknown_account(_: Request, exc: UnknownAccount) -> JSONResponse:
        return problem(404, "Unknown account", exc.message)

    @app.exception_handler(AuthenticationFailed)
    async def _not_authenticated(_: Request, exc: AuthenticationFailed) -> JSONResponse:
        return problem(401, "Not authenticated", str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail),
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
        return problem(500, "Internal error",
                       "the server failed to handle this request; the error was logged")


    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _as_page_under_app(handler)


ProblemPage = Callable[[Request, dict[str, Any], Response], Response]
"""Renders a problem as the web app's page (services/web): `app.state.problem_page`."""


def _as_page_under_app(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, with its problem answered as an HTML page under /app/ when the web app is
    installed: one mapping of exceptions to statuses and messages for the API and the pages."""

    async def handle(request: Request, exc: Exception) -> Response:
        response: Response = await handler(request, exc)
        page: ProblemPage | None = getattr(request.app.state, "problem_page", None)
        if page is None or not request.url.path.startswith("/app/") \
                or response.media_type != PROBLEM_JSON:
            return response
        return page(request, json.loads(bytes(response.body)), response)

    return handle


def _refusal_budget(request: Request) -> EventBudget:
    """This process's budget of recorded access refusals (services/access_refusals.py)."""
    state = request.app.state
    budget: EventBudget | None = getattr(state, "access_refusal_budget", None)
    if budget is None:
        budget = state.access_refusal_budget = EventBudget()
    return budget


_TITLES = {401: "Not authenticated", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Request too large",
           415: "Unsupported media type", 429: "Too many attempts",
           503: "Service unavailable"}
