"""Sign in and out of the web app (services/web/session.py says how the session is kept)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from infra.security.throttle import Throttled
from services.api.deps import LedgerDep, SettingsDep
from services.api.routes.auth import sign_in
from services.authentication import AuthenticationFailed
from services.web.render import page
from services.web.session import (
    COOKIE,
    COOKIE_PATH,
    SIGN_IN,
    check_csrf,
    safe_next,
    same_origin,
)

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "sign_in.html", actor=None, next_path=safe_next(next), message="",
                username="")


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_submitted(
    request: Request, ledger: LedgerDep, settings: SettingsDep,
    username: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """The API's sign-in (throttle, recorded attempt, lockout); the token goes in the cookie."""
    target = safe_next(next)
    if not same_origin(request):
        return page(request, "sign_in.html", actor=None, status=403, next_path=target,
                    username="", message="This form was sent from another site: open the "
                                         "sign-in page of this app and sign in there.")
    try:
        token, expires_in = sign_in(request, ledger, settings, username, password)
    except Throttled as throttled:
        return page(request, "sign_in.html", actor=None, status=429, next_path=target,
                    username=username, message="Too many failed sign-ins: try again in "
                                               f"{throttled.retry_after} s.")
    except AuthenticationFailed as failed:
        return page(request, "sign_in.html", actor=None, status=401, next_path=target,
                    username=username, message=str(failed))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=expires_in, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Forget the session cookie (the token itself expires on its own; a password change or
    a lock revokes it at once)."""
    if not (same_origin(request) and check_csrf(request, csrf)):
        return RedirectResponse(SIGN_IN, status_code=303)
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response
