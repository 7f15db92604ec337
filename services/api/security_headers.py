"""The security headers every response carries.

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` on every response;
- `Cache-Control: no-store` on everything under /api/ and on the web app's pages under /app/
  (clinical data, tokens, errors): no browser or proxy keeps a copy;
- a Content-Security-Policy on every response: the web app's pages allow only their own
  scripts and stylesheet (`APP_CSP`), other HTML gets a strict one (no scripts at all),
  the interactive API docs their own (services.api.docs_pages: local assets, hashed inline
  scripts), anything else
  `default-src 'none'`;
- no `Server` banner (the CLI also starts uvicorn with `server_header=False`).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.api.docs_pages import DOCS_CSP

HTML_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
"""For HTML this service renders itself (the audit report): inline styles, no scripts."""
API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""For JSON and everything else: nothing a browser could run or embed."""
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
DROPPED = frozenset({b"server", b"x-powered-by", b"x-request-id",
                     b"content-security-policy", b"x-content-type-options",
                     b"referrer-policy", b"x-frame-options"})


APP_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
"""For the web app (services/web): its own scripts and stylesheet only, no inline script or
style, no other origin; forms post only to itself."""


def content_security_policy(path: str, content_type: str) -> str:
    if path in DOCS_PATHS:
        return DOCS_CSP
    if path == "/app" or path.startswith("/app/"):
        return APP_CSP
    return HTML_CSP if content_type.startswith("text/html") else API_CSP


def security_headers(path: str, headers: Iterable[tuple[bytes, bytes]], request_id: str
                     ) -> list[tuple[bytes, bytes]]:
    """The response's headers with the security headers set (and any app-set copy of them
    replaced), plus the request id."""
    private = path.startswith("/api/") or (path.startswith("/app/")
                                       and not path.startswith("/app/static/"))
    kept = [(k, v) for k, v in headers
            if k.lower() not in DROPPED and not (private and k.lower() == b"cache-control")]
    content_type = next((v.decode("latin-1").lower() for k, v in kept
                         if k.lower() == b"content-type"), "")
    added = {
        "x-request-id": request_id,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "content-security-policy": content_security_policy(path, content_type),
    }
    if private:
        added["cache-control"] = "no-store"
    return kept + [(k.encode(), v.encode("latin-1")) for k, v in added.items()]
