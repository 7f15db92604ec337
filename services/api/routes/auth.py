"""POST /api/v1/auth/token: the OAuth2 password flow, answered with a short-lived JWT."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm

from infra.logging import get_logger
from infra.security.passwords import DUMMY_HASH, verify_password
from infra.security.tokens import issue_token
from services.api.deps import BEARER, LedgerDep, SettingsDep
from services.api.schemas import TokenOut

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])
log = get_logger("trial_ledger.auth")


@router.post("/token", response_model=TokenOut)
def issue_access_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ledger: LedgerDep, settings: SettingsDep,
) -> TokenOut:
    """Exchange username and password for a bearer token."""
    account = ledger.account(form.username)
    ok = verify_password(account.password_hash if account else DUMMY_HASH, form.password)
    if account is None or not ok or not account.active:
        log.warning("login_failed", username=form.username)
        raise HTTPException(401, "wrong username or password", headers=BEARER)
    token, expires_in = issue_token(
        settings.token_secret(), username=account.username, role=account.account_role,
        account_version=account.version, ttl=timedelta(minutes=settings.token_ttl_minutes),
    )
    log.info("login", username=account.username)
    return TokenOut(access_token=token, expires_in=expires_in)
