"""Short-lived HS256 bearer tokens (PyJWT)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "trial-ledger"


@dataclass(frozen=True)
class TokenClaims:
    username: str
    role: str
    account_version: int
    expires_at: datetime
    token_id: str


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired or not ours."""


def issue_token(secret: str, *, username: str, role: str, account_version: int,
                ttl: timedelta, now: datetime | None = None) -> tuple[str, int]:
    issued = now or datetime.now(UTC)
    expires = issued + ttl
    payload = {
        "iss": ISSUER,
        "sub": username,
        "role": role,
        "av": account_version,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), int(ttl.total_seconds())


VERIFIED_TOKENS = 4096
_verified: dict[tuple[str, str], TokenClaims] = {}
_verified_guard = threading.Lock()


def read_token(secret: str, token: str) -> TokenClaims:
    """The claims of a token we signed; InvalidToken for anything else, including a
    well-signed token whose claims are missing or of the wrong type.

    A token already verified under the same secret is not verified again (a client sends the
    same token with every request): its claims are kept until it expires, and the expiry is
    checked at every use. What the token says of the account is still checked against the
    account's current standing by the caller."""
    known = _verified.get((secret, token))
    if known is not None:
        if known.expires_at > datetime.now(UTC):
            return known
        with _verified_guard:
            _verified.pop((secret, token), None)
    claims = _verify(secret, token)
    with _verified_guard:
        if len(_verified) >= VERIFIED_TOKENS:
            _verified.clear()
        _verified[(secret, token)] = claims
    return claims


def _verify(secret: str, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "jti", "role", "av"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("the token has expired; request a new one") from error
    except jwt.PyJWTError as error:
        raise InvalidToken("the token is not valid") from error
    return _claims(payload)


def _claims(payload: dict[str, Any]) -> TokenClaims:
    texts = {name: payload.get(name) for name in ("sub", "role", "jti")}
    version, expires = payload.get("av"), payload.get("exp")
    if (not all(isinstance(value, str) and value for value in texts.values())
            or not isinstance(version, int) or isinstance(version, bool)
            or not isinstance(expires, int | float) or isinstance(expires, bool)):
        raise InvalidToken("the token is not valid: a claim is missing or of the wrong type")
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken("the token is not valid: its expiry is out of range") from None
    return TokenClaims(username=str(texts["sub"]), role=str(texts["role"]),
                       account_version=version, expires_at=expires_at,
                       token_id=str(texts["jti"]))
