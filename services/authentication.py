"""Checking a password, for a token, a signature or a password change (Part 11 §11.300).

Every checked attempt is an event: LoginSucceeded / LoginFailed in the account's stream (the
fifth wrong password in a row also records an automatic AccountLocked that ends by itself,
see domain/account.py), or LoginFailed in `security:login` for a username with no account,
recorded by a keyed digest of the typed name and at most `unknown_username_events_per_window`
times per window (the rest are counted into the next recorded one). Nothing secret is stored
or logged.

An anonymous caller (a sign-in, a password change without a token) learns nothing about the
account: unknown usernames, wrong passwords, locked and deactivated accounts all get the same
refusal. Only a caller who gave the right password is told that it must be changed first; a
signer, who already holds a valid token of the account, is told about its own lockout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from domain.account import (
    MAX_CONSECUTIVE_FAILURES,
    Account,
    AccountLock,
    LockoutPolicy,
    account_stream_id,
)
from domain.security_log import SECURITY_LOG_ID, SecurityLog
from infra.logging import get_logger
from infra.security.passwords import DUMMY_HASH, verify_password
from infra.security.throttle import EventBudget, Limit
from infra.settings import Settings
from services.application import TrialLedger

Purpose = Literal["sign-in", "signature", "password change"]
WRONG = "wrong username or password"
CONTACT = "contact an administrator"
REFUSED = (f"{WRONG}, or the account may not sign in now: if this goes on, {CONTACT}")
"""The one answer to every refused anonymous attempt, whatever the reason."""
CHANGE_FIRST = ("the password was set by an administrator: choose your own with POST "
                "/api/v1/auth/password (username, current_password, new_password), then sign in")
EXPIRED = ("the password has expired: set a new one with POST /api/v1/auth/password "
           "(username, current_password, new_password), then sign in")
DIGEST_CHARS = 16
log = get_logger("trial_ledger.auth")


class AuthenticationFailed(Exception):
    """The password check failed (HTTP 401); the message says what the person can do."""


@dataclass(frozen=True)
class SignInPolicy:
    """The settings a password check follows, and this process's budget of unknown-username
    events (None: record every one)."""

    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    name_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    password_max_age_days: int | None = None
    unknown_budget: EventBudget | None = None
    unknown_limit: Limit = field(default_factory=lambda: Limit(60, 300))

    @classmethod
    def from_settings(cls, settings: Settings, token_secret: str,
                      unknown_budget: EventBudget | None = None) -> SignInPolicy:
        return cls(
            lockout=LockoutPolicy(settings.lockout_minutes, settings.lockout_max_minutes),
            name_key=name_key(token_secret),
            password_max_age_days=settings.password_max_age_days,
            unknown_budget=unknown_budget,
            unknown_limit=Limit(settings.unknown_username_events_per_window,
                                settings.sign_in_window_seconds),
        )


def name_key(server_secret: str) -> bytes:
    """The key of typed-name digests, derived from the server's token secret (a new secret
    gives new digests: they only need to match within one key's lifetime)."""
    return hmac.new(server_secret.encode(), b"trial-ledger unknown-username digest",
                    hashlib.sha256).digest()


def username_digest(key: bytes, typed: str) -> str:
    """HMAC-SHA256 of what was typed, truncated: the same name gives the same digest, and it
    cannot be turned back into the name without the server's secret."""
    return hmac.new(key, typed.encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS]


def authenticate(ledger: TrialLedger, username: str, password: str, *, purpose: Purpose,
                 request_id: str | None, policy: SignInPolicy | None = None,
                 now: datetime | None = None) -> Account:
    """The account, if `password` is its current one and it may sign in; else record why not
    and raise AuthenticationFailed."""
    policy = policy or SignInPolicy()
    now = now or datetime.now(UTC)
    account = ledger.account(username)
    matches = verify_password(account.password_hash if account else DUMMY_HASH, password)
    if account is None:
        _unknown(ledger, username_digest(policy.name_key, username), purpose, request_id,
                 policy, now)
        raise AuthenticationFailed(REFUSED)
    refusal = _refusal(account, matches, purpose, policy.password_max_age_days, now)
    if refusal is not None:
        _refuse(ledger, account, refusal, purpose, counts=not matches, request_id=request_id,
                policy=policy, now=now)
    if purpose == "sign-in" or account.failed_logins or account.lockout is not None:
        ledger.update_stream(account_stream_id(username), lambda current: _succeeded(
            current, f"password checked for {purpose}", request_id))
        log.info("login", username=username, purpose=purpose)
    return account


def _unknown(ledger: TrialLedger, digest: str, purpose: Purpose, request_id: str | None,
             policy: SignInPolicy, now: datetime) -> None:
    budget = policy.unknown_budget
    unrecorded = budget.take(policy.unknown_limit, now.timestamp()) if budget else 0
    if unrecorded is None:
        log.warning("login_failed", username_digest=digest, failure="unknown user",
                    purpose=purpose, recorded=False)
        return

    def record(security: SecurityLog | None) -> SecurityLog:
        security = security or SecurityLog.open()
        security.unknown_user(digest, request_id, unrecorded)
        return security

    ledger.update_stream(SECURITY_LOG_ID, record)
    log.warning("login_failed", username_digest=digest, failure="unknown user", purpose=purpose,
                unrecorded_before=unrecorded)


def _succeeded(account: Account, reason: str, request_id: str | None) -> Account:
    account.login_succeeded(request_id, reason)
    return account


def _refusal(account: Account, matches: bool, purpose: Purpose, max_age_days: int | None,
             now: datetime) -> tuple[str, str] | None:
    """(what is recorded, what the caller is told), or None when the attempt may go ahead."""
    holder = purpose == "signature"  # the caller already holds a valid token of this account
    if not account.active:
        return "account deactivated", REFUSED
    lock = account.lock_in_force(now)
    if lock is not None:
        return "account locked", _lock_told(lock) if holder else REFUSED
    if not matches:
        return f"wrong password at {purpose}", WRONG if holder else REFUSED
    if purpose == "sign-in" and account.must_change_password:
        return "password must be changed", CHANGE_FIRST
    if purpose == "sign-in" and account.password_expired(now, max_age_days):
        return "password expired", EXPIRED
    return None


def _lock_told(lock: AccountLock) -> str:
    if lock.until is None:
        return f"the account is locked: {CONTACT} to unlock it"
    return (f"the account is locked until {lock.until.isoformat(timespec='seconds')} after "
            f"failed password checks: {CONTACT} to unlock it sooner")


def _refuse(ledger: TrialLedger, account: Account, refusal: tuple[str, str], purpose: Purpose,
            *, counts: bool, request_id: str | None, policy: SignInPolicy, now: datetime
            ) -> None:
    recorded, told = refusal
    lockout: AccountLock | None = None

    def fail(current: Account) -> Account:
        nonlocal lockout
        lockout = current.login_failed(recorded, counts=counts, client_request_id=request_id,
                                       now=now, policy=policy.lockout)
        return current

    ledger.update_stream(account_stream_id(account.username), fail)
    log.warning("login_failed", username=account.username, failure=recorded, purpose=purpose)
    if lockout is not None and lockout.until is not None:
        until = lockout.until.isoformat(timespec="seconds")
        log.warning("account_locked", username=account.username,
                    failures=MAX_CONSECUTIVE_FAILURES, until=until,
                    minutes=round((lockout.until - now).total_seconds() / 60))
        if purpose == "signature":
            told = (f"{told}; after {MAX_CONSECUTIVE_FAILURES} failures in a row the account "
                    f"is now locked until {until}: {CONTACT} to unlock it sooner")
    raise AuthenticationFailed(told)
