"""POST /api/v1/auth/token: the OAuth2 password flow, answered with a short-lived JWT; and
POST /api/v1/auth/password: change a password with the current one (also when it expired or
was set by an administrator). Both are anonymous, so both go through the sign-in throttle
(429 with Retry-After) before any password is hashed."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from domain.errors import FieldProblem, InvalidEntry
from infra.security.throttle import Throttled
from infra.security.tokens import issue_token
from infra.settings import Settings
from services.accounts import change_own_password
from services.api.deps import LedgerDep, SettingsDep, request_id, token_secret
from services.api.responses import (
    CONFLICT_409,
    FORM_415,
    RECORDING_409,
    THROTTLED_429,
    WRONG_PASSWORD_401,
    merged,
)
from services.api.schemas import AccountOut, PasswordChange, TokenOut
from services.api.sign_in_guard import clock, sign_in_guard, sign_in_policy, too_many_attempts
from services.application import TrialLedger
from services.authentication import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])


@router.post("/token", response_model=TokenOut,
             responses=merged(WRONG_PASSWORD_401, RECORDING_409, FORM_415, THROTTLED_429))
def issue_access_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ledger: LedgerDep, settings: SettingsDep, request: Request,
) -> TokenOut | JSONResponse:
    """Exchange username and password for a bearer token. Every checked attempt is recorded;
    the fifth wrong password in a row locks the account for a while (doubling on repeats)."""
    try:
        token, expires_in = sign_in(request, ledger, settings, form.username, form.password)
    except Throttled as throttled:
        return too_many_attempts(throttled, settings)
    return TokenOut(access_token=token, expires_in=expires_in)


def sign_in(request: Request, ledger: TrialLedger, settings: Settings, username: str,
            password: str) -> tuple[str, int]:
    """(token, seconds it lasts) for a right password: the throttle first (Throttled before
    any password is hashed), then the recorded check (AuthenticationFailed on a wrong one).
    The API's token route and the web app's sign-in form both sign in here."""
    guard, now = sign_in_guard(request), clock(request)
    attempt = guard.admit(settings, request, username, now)
    account = authenticate(ledger, username, password, purpose="sign-in",
                           request_id=request_id(request), policy=sign_in_policy(request),
                           now=now)
    guard.succeeded(attempt)
    return issue_token(
        token_secret(request), username=account.username, role=account.account_role or "none",
        account_version=account.credentials_version,
        ttl=timedelta(minutes=settings.token_ttl_minutes),
    )


@router.post("/password", response_model=AccountOut,
             responses=merged(WRONG_PASSWORD_401, CONFLICT_409, THROTTLED_429))
def change_password(body: Annotated[PasswordChange, Body()], ledger: LedgerDep,
                    settings: SettingsDep, request: Request) -> dict[str, object] | JSONResponse:
    """Change a password with the current one, no token needed (the way out of an expired
    password or one an administrator set); tokens issued before stop working."""
    if body.username is None:
        raise InvalidEntry("username is required here (or use /api/v1/accounts/me/password "
                           "with a token)", [FieldProblem("username", "required")])
    guard, now = sign_in_guard(request), clock(request)
    try:
        attempt = guard.admit(settings, request, body.username, now)
    except Throttled as throttled:
        return too_many_attempts(throttled, settings)
    try:
        account = change_own_password(
            ledger, body.username, body.current_password.get_secret_value(),
            body.new_password.get_secret_value(), request_id=request_id(request),
            policy=sign_in_policy(request), now=now)
    except InvalidEntry:
        guard.succeeded(attempt)  # the current password was right; the new one is refused
        raise
    guard.succeeded(attempt)
    return account.public_view(now)
