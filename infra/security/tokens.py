"""Short-lived HS256 bearer tokens (PyJWT)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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


def read_token(secret: str, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "jti"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("the token has expired; request a new one") from error
    except jwt.PyJWTError as error:
        raise InvalidToken("the token is not valid") from error
    return TokenClaims(
        username=str(payload["sub"]),
        role=str(payload["role"]),
        account_version=int(payload["av"]),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        token_id=str(payload["jti"]),
    )
