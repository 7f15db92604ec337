"""POST /api/v1/auth/token: the OAuth2 password flow, answered with a short-lived JWT; and
POST /api/v1/auth/password: change a password with the current one (also when it expired)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from domain.errors import FieldProblem, InvalidEntry
from infra.security.tokens import issue_token
from services.accounts import change_own_password
from services.api.deps import LedgerDep, SettingsDep, request_id
from services.api.schemas import AccountOut, PasswordChange, TokenOut
from services.authentication import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])


@router.post("/token", response_model=TokenOut)
def issue_access_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ledger: LedgerDep, settings: SettingsDep, request: Request,
) -> TokenOut:
    """Exchange username and password for a bearer token. Every attempt is recorded; the
    fifth wrong password in a row locks the account."""
    account = authenticate(ledger, form.username, form.password, purpose="sign-in",
                           request_id=request_id(request),
                           password_max_age_days=settings.password_max_age_days)
    token, expires_in = issue_token(
        settings.token_secret(), username=account.username, role=account.account_role or "none",
        account_version=account.credentials_version,
        ttl=timedelta(minutes=settings.token_ttl_minutes),
    )
    return TokenOut(access_token=token, expires_in=expires_in)


@router.post("/password", response_model=AccountOut)
def change_password(body: Annotated[PasswordChange, Body()], ledger: LedgerDep,
                    request: Request) -> dict[str, object]:
    """Change a password with the current one, no token needed (the way out of an expired or
    reset password); tokens issued before stop working."""
    if body.username is None:
        raise InvalidEntry("username is required here (or use /api/v1/accounts/me/password "
                           "with a token)", [FieldProblem("username", "required")])
    account = change_own_password(ledger, body.username, body.current_password.get_secret_value(),
                                  body.new_password.get_secret_value(),
                                  request_id=request_id(request))
    return account.public_view()
