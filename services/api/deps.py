"""FastAPI dependencies as Annotated aliases: the ledger, the settings, the signed-in actor."""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import OAuth2PasswordBearer

from domain.account import Account
from domain.errors import FieldProblem, InvalidEntry
from domain.ledger_event import Author
from infra.ledger.chain import format_recorded_at
from infra.security.tokens import InvalidToken, TokenClaims, read_token
from infra.settings import Settings
from services.access import authorize_route
from services.application import Actor, TrialLedger

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
BEARER = {"WWW-Authenticate": "Bearer"}


def get_ledger(request: Request) -> TrialLedger:
    ledger: TrialLedger = request.app.state.ledger
    return ledger


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


LedgerDep = Annotated[TrialLedger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_actor(
    request: Request, ledger: LedgerDep, settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Actor:
    """The signed-in account as it stands now (role and sites never come from the token),
    allowed by the access table to use this route at all."""
    if not token:
        raise HTTPException(401, "sign in first: send 'Authorization: Bearer <token>' "
                                 "with a token from POST /api/v1/auth/token", headers=BEARER)
    try:
        claims = read_token(settings.token_secret(), token)
    except InvalidToken as error:
        raise HTTPException(401, str(error), headers=BEARER) from None
    account = ledger.account(claims.username)
    refusal = token_refusal(account, claims)
    if refusal is not None or account is None:
        raise HTTPException(401, refusal, headers=BEARER)
    actor = Actor(account.username, account.account_role or "none", account.full_name,
                  tuple(account.sites))
    route = request.scope.get("route")
    authorize_route(actor.role, actor.sites, request.method,
                    getattr(route, "path", request.url.path))
    return actor


def token_refusal(account: Account | None, claims: TokenClaims) -> str | None:
    """Why a well-signed, unexpired token no longer works: Part 11 §11.300 revocation."""
    if account is None:
        return "the account behind this token does not exist"
    if not account.active:
        return "the account is deactivated: contact an administrator"
    if account.locked is not None:
        return "the account is locked: contact an administrator to unlock it"
    if claims.account_version != account.credentials_version:
        return ("this token was revoked (the password changed or the account was locked "
                "since it was issued): sign in again")
    return None


ActorDep = Annotated[Actor, Depends(current_actor)]


def request_id(request: Request) -> str | None:
    """The request's id (X-Request-ID or generated), kept inside the events it records."""
    return getattr(request.state, "request_id", None)


def author_of(actor: Actor, request: Request) -> Author:
    """The actor as the author of an event recorded by this request."""
    return Author(actor.username, actor.role, request_id(request))


def parse_as_of(
    as_of: Annotated[str | None, Query(
        max_length=64,
        description="Recorded time (RFC 3339 with Z or an offset): answer as the system knew "
                    "it then. Default: now. URL-encode a `+` offset as %2B.",
        examples=["2026-03-03T14:00:00Z"],
    )] = None,
) -> str | None:
    if as_of is None:
        return None
    return format_recorded_at(max(_as_of_moment(as_of), EARLIEST_AS_OF))


EARLIEST_AS_OF = datetime(1000, 1, 1, tzinfo=UTC)
"""Recorded times are compared as text with four-digit years (strftime writes year 999 as
"999", which would sort after "2026"); nothing was recorded before this instant, so any
earlier as_of gives the same answer as this one and is read as it."""


def _as_of_problem(message: str, msg: str) -> InvalidEntry:
    return InvalidEntry(message, [FieldProblem("query.as_of", msg)])


def _as_of_moment(as_of: str) -> datetime:
    """The instant `as_of` names, in UTC; InvalidEntry (422) saying why it names none."""
    if PLUS_DECODED_AS_SPACE.fullmatch(as_of):
        msg = ("the offset's '+' arrived as a space: URL-encode '+' as %2B, "
               "e.g. as_of=2026-03-03T14:00:00%2B01:00")
        raise _as_of_problem(f"as_of {as_of!r}: {msg}", msg)
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _as_of_problem(
            f"as_of {as_of!r} is not an RFC 3339 time with a zone, e.g. 2026-03-03T14:00:00Z",
            "not an RFC 3339 time with Z or an offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        msg = "outside the range of recorded times (years 0001 to 9999 in UTC)"
        raise _as_of_problem(f"as_of {as_of!r} is {msg}", msg) from None


PLUS_DECODED_AS_SPACE = re.compile(r".*T\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}(:?\d{2})?")
"""An offset like +01:00 whose '+' a query string decoded as a space."""


AsOfDep = Annotated[str | None, Depends(parse_as_of)]


def dependants(dependant: Dependant) -> list[Dependant]:
    """A route's dependant and every sub-dependency's, depth first."""
    out = [dependant]
    for sub in dependant.dependencies:
        out += dependants(sub)
    return out


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters a route declares, its sub-dependencies' (such as as_of) included."""
    names = [field.alias for d in dependants(dependant) for field in d.query_params]
    return list(dict.fromkeys(names))


def known_query_only(request: Request) -> None:
    """A query parameter the route does not declare is refused (422) rather than ignored: a
    misspelt filter (`criterion`, `from`, `type`) would otherwise answer about everything."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if not unknown:
        return
    route = f"{request.method} {getattr(request.scope.get('route'), 'path', request.url.path)}"
    takes = (f"it takes {', '.join(known)}" if known else "it takes no query parameters")
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(FieldProblem(f"query.{name}",
                                     f"not a query parameter of {route}{hint}; {takes}"))
    listed = ", ".join(repr(name) for name in unknown)
    raise InvalidEntry(f"unknown query parameter {listed} for {route}: {takes}", problems)


KnownQueryOnly = Depends(known_query_only)
