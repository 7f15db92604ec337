"""FastAPI dependencies as Annotated aliases: the ledger, the settings, the signed-in actor.

Dependencies that only look at the request are `async`: FastAPI runs a plain `def`
dependency in a worker thread, a hand-off that costs more than the work itself. Only
`current_actor` reads the store, so it stays a plain `def`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine

from domain.account import Account, account_stream_id
from domain.errors import FieldProblem, InvalidEntry
from domain.ledger_event import Author
from infra.ledger.chain import format_recorded_at
from infra.secrets import Secrets
from infra.security.tokens import InvalidToken, TokenClaims, read_token
from infra.settings import Settings
from services.access import authorize_route
from services.application import Actor, TrialLedger

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
BEARER = {"WWW-Authenticate": "Bearer"}


async def get_ledger(request: Request) -> TrialLedger:
    ledger: TrialLedger = request.app.state.ledger
    return ledger


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def token_secret(request: Request) -> str:
    """The app's token signing secret (loaded once when the app was made)."""
    secrets: Secrets = request.app.state.secrets
    return secrets.token_secret


LedgerDep = Annotated[TrialLedger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Standing:
    """What the token check needs of an account, as folded at `version` of its stream."""

    version: int
    actor: Actor
    active: bool
    locked: bool
    credentials_version: int

    @classmethod
    def of(cls, account: Account) -> Standing:
        return cls(account.version, Actor(account.username, account.account_role or "none",
                                          account.full_name, tuple(account.sites)),
                   account.active, account.locked is not None, account.credentials_version)


class Standings:
    """Each account's standing, reused while its stream has not moved.

    Every request still asks the store for the account stream's current version (one
    primary-key probe); only when it is the version a standing was folded at is that standing
    used. A lock, a deactivation, a password change or a role change is a new event of the
    stream, so the very next request finds a newer version and folds the account again: the
    answer is the one a fresh fold would give, without decoding the stream each time."""

    MAX_ACCOUNTS = 10_000

    def __init__(self) -> None:
        self._known: dict[str, Standing] = {}

    def current(self, ledger: TrialLedger, engine: Engine, username: str) -> Standing | None:
        known = self._known.get(username)
        if known is not None and ledger.decisions.stream_version(
                account_stream_id(username)) == known.version:
            return known
        account = ledger.account(username)
        if account is None:
            self._known.pop(username, None)
            return None
        standing = Standing.of(account)
        if len(self._known) >= self.MAX_ACCOUNTS:
            self._known.clear()
        self._known[username] = standing
        return standing


def standings(request: Request) -> Standings:
    """The app's standings (one per app, made on first use)."""
    known: Standings | None = getattr(request.app.state, "account_standings", None)
    if known is None:
        known = Standings()
        request.app.state.account_standings = known
    return known


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
        claims = read_token(token_secret(request), token)
    except InvalidToken as error:
        raise HTTPException(401, str(error), headers=BEARER) from None
    standing = standings(request).current(ledger, request.app.state.engine, claims.username)
    refusal = token_refusal(standing, claims)
    if refusal is not None or standing is None:
        raise HTTPException(401, refusal, headers=BEARER)
    actor = standing.actor
    route = request.scope.get("route")
    authorize_route(actor.role, actor.sites, request.method,
                    getattr(route, "path", request.url.path))
    return actor


def token_refusal(account: Standing | None, claims: TokenClaims) -> str | None:
    """Why a well-signed, unexpired token no longer works: Part 11 §11.300 revocation."""
    if account is None:
        return "the account behind this token does not exist"
    if not account.active:
        return "the account is deactivated: contact an administrator"
    if account.locked:
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


async def parse_as_of(
    as_of: Annotated[str | None, Query(
        max_length=64,
        description="Recorded time (RFC 3339 with Z or an offset): answer as the system knew "
                    "it then. Default: now. URL-encode a `+` offset as %2B.",
        examples=["2026-03-03T14:00:00Z"],
    )] = None,
) -> str | None:
    if as_of is None:
        return None
    return recorded_time("as_of", as_of)


EARLIEST_AS_OF = datetime(1000, 1, 1, tzinfo=UTC)
"""Recorded times are compared as text with four-digit years (strftime writes year 999 as
"999", which would sort after "2026"); nothing was recorded before this instant, so any
earlier as_of gives the same answer as this one and is read as it."""


def recorded_time(name: str, text: str) -> str:
    """The recorded time the query parameter `name` gives, as stored text (canonical RFC 3339
    in UTC, never before EARLIEST_AS_OF); InvalidEntry (422 at `query.<name>`) if none."""
    return format_recorded_at(max(recorded_moment(name, text), EARLIEST_AS_OF))


def _time_problem(name: str, message: str, msg: str) -> InvalidEntry:
    return InvalidEntry(message, [FieldProblem(f"query.{name}", msg)])


def recorded_moment(name: str, text: str) -> datetime:
    """The instant `text` names, in UTC; InvalidEntry (422 at `query.<name>`) saying why it
    names none."""
    if PLUS_DECODED_AS_SPACE.fullmatch(text):
        msg = ("the offset's '+' arrived as a space: URL-encode '+' as %2B, "
               f"e.g. {name}=2026-03-03T14:00:00%2B01:00")
        raise _time_problem(name, f"{name} {text!r}: {msg}", msg)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _time_problem(
            name, f"{name} {text!r} is not an RFC 3339 time with a zone, e.g. "
                  "2026-03-03T14:00:00Z",
            "not an RFC 3339 time with Z or an offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        msg = "outside the range of recorded times (years 0001 to 9999 in UTC)"
        raise _time_problem(name, f"{name} {text!r} is {msg}", msg) from None


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


async def known_query_only(request: Request) -> None:
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
