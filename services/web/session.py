"""Signing in to the web app: the API's accounts, tokens and access table, carried in a cookie.

The sign-in form posts a username and password to the same sign-in as `POST /api/v1/auth/token`
(throttle, recorded attempt, lockout), and the token it issues is kept in an `HttpOnly`,
`SameSite=Strict` cookie scoped to `/app`: page scripts never see it and no other site's page
can send it. Every page then checks the token exactly as the API checks a bearer token (the
account as it stands now: revoked, locked or deactivated accounts are out at once) and the
route against the one access table (services/access.py lists every `/app` page).

Every form that changes something carries a CSRF token derived from the session (an HMAC of
the cookie under the app's token secret); `SameSite=Strict` already keeps other sites' forms
from arriving signed in, the token also stops a same-site page that is not ours.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from infra.security.tokens import InvalidToken, read_token
from services.access import authorize_route
from services.api.deps import LedgerDep, standings, token_refusal, token_secret
from services.application import Actor

COOKIE = "trial_ledger_session"
COOKIE_PATH = "/app"
SIGN_IN = "/app/sign-in"
HOME = "/app/participants"


class SignInRequired(Exception):
    """No valid session: the page answers with the sign-in form (a redirect to it)."""

    def __init__(self, reason: str, next_path: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.next_path = next_path


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def csrf_token(request: Request) -> str:
    """The CSRF token of this session (empty without one): forms send it back."""
    token = session_token(request)
    if token is None:
        return ""
    return hmac.new(token_secret(request).encode(), b"csrf:" + token.encode(),
                    hashlib.sha256).hexdigest()


def check_csrf(request: Request, sent: str | None) -> bool:
    expected = csrf_token(request)
    return bool(expected) and sent is not None and hmac.compare_digest(expected, sent)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path of this app only (never another host: `//x`,
    `/\\x` or a scheme would make the form an open redirect)."""
    if (not path or not path.startswith("/app/") or path.startswith("//") or "\\" in path
            or any(ord(c) < 0x20 for c in path)):
        return HOME
    return path


def sign_in_location(request: Request) -> str:
    """The sign-in form's address, coming back to this page (GETs only) afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = here if request.method == "GET" else HOME
    return f"{SIGN_IN}?next={quote(safe_next(back), safe='')}"


def web_actor(request: Request, ledger: LedgerDep) -> Actor:
    """The signed-in account as it stands now, allowed by the access table to open this page
    at all (the page checks the participant's site itself, as the API routes do)."""
    token = session_token(request)
    if token is None:
        raise SignInRequired("sign in first", sign_in_location(request))
    try:
        claims = read_token(token_secret(request), token)
    except InvalidToken as error:
        raise SignInRequired(str(error), sign_in_location(request)) from None
    standing = standings(request).current(ledger, request.app.state.engine, claims.username)
    refusal = token_refusal(standing, claims)
    if refusal is not None or standing is None:
        raise SignInRequired(refusal or "sign in again", sign_in_location(request))
    route = request.scope.get("route")
    authorize_route(standing.actor.role, standing.actor.sites, request.method,
                    getattr(route, "path", request.url.path))
    return standing.actor


WebActorDep = Annotated[Actor, Depends(web_actor)]


def same_origin(request: Request) -> bool:
    """A form post that came from one of this app's own pages. A browser says where a request
    comes from in `Sec-Fetch-Site`, which a page cannot forge; browsers too old to send it
    send `Origin` (here `null` on our own pages, which send no referrer: that is refused, as
    is any other host). A client that sends neither, like curl, is not a browser another site
    could drive."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")
