"""FastAPI dependencies as Annotated aliases: the ledger, the settings, the signed-in actor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import OAuth2PasswordBearer

from domain.errors import FieldProblem, InvalidEntry
from infra.ledger.chain import format_recorded_at
from infra.security.tokens import InvalidToken, read_token
from infra.settings import Settings
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
    ledger: LedgerDep, settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Actor:
    if not token:
        raise HTTPException(401, "sign in first: send 'Authorization: Bearer <token>' "
                                 "with a token from POST /api/v1/auth/token", headers=BEARER)
    try:
        claims = read_token(settings.token_secret(), token)
    except InvalidToken as error:
        raise HTTPException(401, str(error), headers=BEARER) from None
    account = ledger.account(claims.username)
    if account is None or not account.active:
        raise HTTPException(401, "the account behind this token is not active", headers=BEARER)
    return Actor(account.username, account.account_role, account.full_name, tuple(account.sites))


ActorDep = Annotated[Actor, Depends(current_actor)]


def parse_as_of(
    as_of: Annotated[str | None, Query(
        description="Recorded time (RFC 3339 with Z or an offset): answer as the system knew "
                    "it then. Default: now.",
        examples=["2026-03-03T14:00:00Z"],
    )] = None,
) -> str | None:
    if as_of is None:
        return None
    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidEntry(
            f"as_of {as_of!r} is not an RFC 3339 time with a zone, e.g. 2026-03-03T14:00:00Z",
            [FieldProblem("query.as_of", "not an RFC 3339 time with Z or an offset")],
        )
    return format_recorded_at(moment)


AsOfDep = Annotated[str | None, Depends(parse_as_of)]
