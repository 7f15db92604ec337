"""The sign-in throttle of this API process, between the anonymous password endpoints and the
password check: per client address (`request.client.host`) and per typed username, checked
before argon2 runs, so a throttled attempt costs no hashing and records no event.

The guard lives on `app.state.sign_in_guard` (made on first use). The time it and the lockout
go by is `app.state.clock()` when a test sets one, else the system's UTC clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import JSONResponse

from infra.logging import get_logger
from infra.security.throttle import Attempt, EventBudget, Limit, Throttle, Throttled
from infra.settings import Settings
from services.api.deps import token_secret
from services.api.errors import problem
from services.authentication import SignInPolicy, name_key, username_digest

log = get_logger("trial_ledger.auth")
_creating = threading.Lock()


@dataclass
class SignInGuard:
    """One process's sliding windows and its budget of unknown-username events."""

    throttle: Throttle = field(default_factory=Throttle)
    unknown_budget: EventBudget = field(default_factory=EventBudget)

    def admit(self, settings: Settings, request: Request, username: str, now: datetime
              ) -> Attempt:
        """Count the attempt, or raise Throttled naming `address:` or `username:`."""
        window = settings.sign_in_window_seconds
        typed = username_digest(name_key(token_secret(request)), username.strip().lower())
        limits = {
            f"address:{client_address(request)}": Limit(settings.sign_in_attempts_per_address,
                                                        window),
            f"username:{typed}": Limit(settings.sign_in_attempts_per_username, window),
        }
        try:
            return self.throttle.attempt(limits, now.timestamp())
        except Throttled as throttled:
            log.warning("sign_in_throttled", scope=throttled.key.split(":", 1)[0],
                        client=client_address(request), username_digest=typed,
                        retry_after=throttled.retry_after)
            raise

    def succeeded(self, attempt: Attempt) -> None:
        """A right password: the attempt does not count against anyone."""
        self.throttle.forgive(attempt)

    def policy(self, settings: Settings, token_secret: str) -> SignInPolicy:
        return SignInPolicy.from_settings(settings, token_secret, self.unknown_budget)


def sign_in_guard(request: Request) -> SignInGuard:
    state = request.app.state
    with _creating:
        guard: SignInGuard | None = getattr(state, "sign_in_guard", None)
        if guard is None:
            guard = state.sign_in_guard = SignInGuard()
    return guard


def sign_in_policy(request: Request) -> SignInPolicy:
    """The password-check policy from the app's settings, for routes that check a password."""
    settings: Settings = request.app.state.settings
    return sign_in_guard(request).policy(settings, token_secret(request))


def clock(request: Request) -> datetime:
    now: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return now() if now is not None else datetime.now(UTC)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many_attempts(throttled: Throttled, settings: Settings) -> JSONResponse:
    """429 problem+json with Retry-After; it says nothing about any account."""
    scope = throttled.key.split(":", 1)[0]
    where, whose = ("client", "from this address") if scope == "address" else (
        "username", "for this username")
    msg = (f"too many failed sign-ins {whose} in the last {settings.sign_in_window_seconds} s: "
           f"try again in {throttled.retry_after} s")
    return problem(429, "Too many sign-in attempts", msg, [{"loc": where, "msg": msg}],
                   headers={"Retry-After": str(throttled.retry_after)})
