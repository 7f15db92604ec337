"""The OpenAPI document tells the truth about refusals.

Every refusal is `application/problem+json` with the `Problem` schema, never FastAPI's
`HTTPValidationError`. Each operation lists the statuses it can really give: 422 everywhere
(a query parameter it does not know, a bad value), 401 and 403 where a token is needed, 400 and
413 where it takes a JSON body (413 for any body), and the route's own (404, 409, 415, 429,
503) from its `responses=` map (services.api.responses). `default` covers a server fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from services.api.deps import current_actor, dependants

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: `detail` is a sentence a person can act on; "
                   "`errors` lists each problem with `loc` (a dotted path into the body, or "
                   "query.<name>, path.<name>, header.<name>) and `msg`. A 409 names the "
                   "broken rule in `rule`.",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "rule": {"type": "string", "description": "On a 409: the rule's name, to branch on."},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["loc", "msg"], "additionalProperties": False,
            "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}}}},
    },
}
GENERIC = {
    400: "The body is not valid JSON (`loc` gives the character).",
    401: "No token, or an expired or revoked one: sign in at POST /api/v1/auth/token.",
    403: "Your role may not use this route, or not at this site.",
    413: "The body is larger than the limit (TRIAL_LEDGER_MAX_BODY_BYTES).",
    422: "A parameter or the body breaks the schema, or a query parameter this route does "
         "not know was sent (the answer lists the known ones).",
}
ROUTE_REFUSALS: dict[tuple[str, str], dict[int, str]] = {
    ("GET", "/api/v1/ledger/checkpoints/latest"): {404: "No checkpoint has been issued yet."},
    ("POST", "/api/v1/ledger/checkpoints"): {
        409: "The ledger no longer extends its stored tree: it cannot be proven.",
        503: "Checkpoints cannot be signed (no usable signing key)."},
    ("GET", "/api/v1/ledger/public-key"): {
        503: "Checkpoints cannot be signed (no usable signing key)."},
    ("GET", "/api/v1/ledger/proofs/inclusion"): {
        404: "No such event, or no checkpoint issued yet (the default tree size).",
        409: "The ledger no longer extends its stored tree: it cannot be proven."},
    ("GET", "/api/v1/ledger/proofs/consistency"): {
        404: "No checkpoint issued yet (the default tree size).",
        409: "The ledger no longer extends its stored tree: it cannot be proven."},
}
"""Refusals of routes whose decorators do not list them (added only where not documented)."""


def generic_statuses(route: RouteContext) -> set[int]:
    """The refusals every route of this kind can give."""
    every = dependants(route.dependant)
    statuses = {422}
    if any(d.call is current_actor for d in every):
        statuses |= {401, 403}
    bodies = [f for d in every for f in d.body_params]
    if bodies:
        statuses.add(413)
        if not any(isinstance(f.field_info, params.Form) for f in bodies):
            statuses.add(400)
    return statuses


def _as_problem(response: dict[str, Any], description: str) -> dict[str, Any]:
    given = response.get("description")
    return {"description": description if given in (None, "", "Validation Error") else given,
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def _document_refusals(operation: dict[str, Any], statuses: dict[int, str]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("4XX", None)
    for status, description in statuses.items():
        responses.setdefault(str(status), {"description": description})
    for code, response in list(responses.items()):
        if code[:1] in ("4", "5"):
            responses[code] = _as_problem(response, GENERIC.get(int(code), "Refused."))
    responses["default"] = _as_problem({}, "A server fault (logged with the request id).")
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: item[0]))


def install_openapi(app: FastAPI) -> None:
    """Replace the document's generator with one that documents refusals truthfully."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            path = str(route.path_format)
            item = document["paths"].get(path, {})
            for method in route.methods or ():
                operation = item.get(method.lower())
                if operation is None:
                    continue
                statuses = {s: GENERIC[s] for s in sorted(generic_statuses(route))}
                statuses |= ROUTE_REFUSALS.get((method, path), {})
                _document_refusals(operation, statuses)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Problem"] = PROBLEM_SCHEMA
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
