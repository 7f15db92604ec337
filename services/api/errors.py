"""Every error as application/problem+json, mapped from typed exceptions in one place."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    FieldProblem,
    InvalidEntry,
    RuleViolation,
    UnknownAccount,
    UnknownParticipant,
)
from infra.logging import get_logger
from services.access import AccessDenied
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
            type_: str = "about:blank", headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail,
                            "errors": errors or []}
    return ProblemResponse(body, status_code=status, headers=headers)


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


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for e in exc.errors():
        loc = _location(e["loc"])
        if e["type"] == "json_invalid":
            loc = f"body (character {e['loc'][-1]})"
        elif not loc and e["type"].startswith("union_tag"):
            loc = "type"
        errors.append({"loc": loc, "msg": e["msg"]})
    return errors


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `errors` says what is wrong and where.",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "loc": {"type": "string"}, "msg": {"type": "string"}, "rule": {"type": "string"}}}},
    },
}
PROBLEM_RESPONSE = {"description": "The request was refused: what is wrong and where.",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what errors really look like: every 4xx of every operation
    is problem+json (FastAPI would document a 422 as its own `HTTPValidationError`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        for item in document.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["4XX"] = PROBLEM_RESPONSE
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Problem"] = PROBLEM_SCHEMA
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    document_problems(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(400, "Malformed JSON",
                           "the request body is not valid JSON: " + "; ".join(
                               f"{e['msg']} at {e['loc']}" for e in errors), errors)
        detail = "; ".join(f"{e['loc'] or 'body'}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", detail, errors)

    @app.exception_handler(InvalidEntry)
    async def _invalid_entry(_: Request, exc: InvalidEntry) -> JSONResponse:
        return problem(422, "Invalid entry", exc.message, _problems(exc.problems))

    @app.exception_handler(RuleViolation)
    async def _conflict(_: Request, exc: RuleViolation) -> JSONResponse:
        return problem(409, "Conflicts with the record", exc.message,
                       [{"rule": exc.rule}] + _problems(exc.problems))

    @app.exception_handler(UnknownParticipant)
    async def _unknown(_: Request, exc: UnknownParticipant) -> JSONResponse:
        return problem(404, "Unknown participant", exc.message)

    @app.exception_handler(UnknownAccount)
    async def _unknown_account(_: Request, exc: UnknownAccount) -> JSONResponse:
        return problem(404, "Unknown account", exc.message)

    @app.exception_handler(AccessDenied)
    async def _denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return problem(403, "Forbidden", str(exc))

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


_TITLES = {401: "Not authenticated", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Request too large",
           415: "Unsupported media type"}
