"""Checking a password, for a token, a signature or a password change (Part 11 §11.300).

Every attempt is an event: LoginSucceeded / LoginFailed in the account's stream (the fifth
wrong password in a row also records AccountLocked), or LoginFailed in `security:login` for a
username with no account. Nothing secret is stored or logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from domain.account import MAX_CONSECUTIVE_FAILURES, Account, account_stream_id
from domain.security_log import SECURITY_LOG_ID, SecurityLog, attempted_name
from infra.logging import get_logger
from infra.security.passwords import DUMMY_HASH, verify_password
from services.application import TrialLedger

Purpose = Literal["sign-in", "signature", "password change"]
WRONG = "wrong username or password"
CONTACT = "contact an administrator"
log = get_logger("trial_ledger.auth")


class AuthenticationFailed(Exception):
    """The password check failed (HTTP 401); the message says what the person can do."""


def authenticate(ledger: TrialLedger, username: str, password: str, *, purpose: Purpose,
                 request_id: str | None, password_max_age_days: int | None = None,
                 now: datetime | None = None) -> Account:
    """The account, if `password` is its current one and it may sign in; else record why not
    and raise AuthenticationFailed."""
    account = ledger.account(username)
    matches = verify_password(account.password_hash if account else DUMMY_HASH, password)
    if account is None:
        ledger.update_stream(SECURITY_LOG_ID, lambda security: _unknown(security, username,
                                                                        request_id))
        log.warning("login_failed", username=attempted_name(username), failure="unknown user",
                    purpose=purpose)
        raise AuthenticationFailed(WRONG)
    refusal = _refusal(account, matches, purpose, password_max_age_days,
                       now or datetime.now(UTC))
    if refusal is not None:
        _refuse(ledger, account, refusal, purpose, counts=not matches, request_id=request_id)
    if purpose == "sign-in" or account.failed_logins:
        ledger.update_stream(account_stream_id(username), lambda current: _succeeded(
            current, f"password checked for {purpose}", request_id))
        log.info("login", username=username, purpose=purpose)
    return account


def _unknown(security: SecurityLog | None, username: str, request_id: str | None
             ) -> SecurityLog:
    security = security or SecurityLog.open()
    security.unknown_user(username, request_id)
    return security


def _succeeded(account: Account, reason: str, request_id: str | None) -> Account:
    account.login_succeeded(request_id, reason)
    return account


def _refusal(account: Account, matches: bool, purpose: Purpose, max_age_days: int | None,
             now: datetime) -> tuple[str, str] | None:
    """(what is recorded, what the person is told), or None when the attempt may go ahead."""
    if not account.active:
        return "account deactivated", f"the account {account.username} is deactivated: {CONTACT}"
    if account.locked is not None:
        return "account locked", (f"the account {account.username} is locked "
                                  f"({account.locked.reason}): {CONTACT} to unlock it")
    if not matches:
        return f"wrong password at {purpose}", WRONG
    if purpose == "sign-in" and account.password_expired(now, max_age_days):
        return "password expired", (
            "the password has expired: set a new one with POST /api/v1/auth/password "
            "(username, current_password, new_password), then sign in")
    return None


def _refuse(ledger: TrialLedger, account: Account, refusal: tuple[str, str], purpose: Purpose,
            *, counts: bool, request_id: str | None) -> None:
    recorded, told = refusal
    locked_now = False

    def fail(current: Account) -> Account:
        nonlocal locked_now
        locked_now = current.login_failed(recorded, counts=counts, client_request_id=request_id)
        return current

    ledger.update_stream(account_stream_id(account.username), fail)
    log.warning("login_failed", username=account.username, failure=recorded, purpose=purpose)
    if locked_now:
        log.warning("account_locked", username=account.username,
                    failures=MAX_CONSECUTIVE_FAILURES)
        told = (f"{told}; after {MAX_CONSECUTIVE_FAILURES} failures in a row the account is "
                f"now locked: {CONTACT}")
    raise AuthenticationFailed(told)
