"""The interactive API docs (/docs, /redoc), served entirely from this process.

Swagger UI and ReDoc come from the `fastapi-offline` package's copies of their assets, mounted
at /docs-assets, so the docs work in a hospital network with no route to a CDN. Each page's
one inline script is allowed by its SHA-256 hash in the Content-Security-Policy, not by
'unsafe-inline'.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
TITLE = "trial-ledger"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _swagger() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title=f"{TITLE}: API", oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png")


def _redoc() -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title=f"{TITLE}: API reference",
                          redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)


def _script_hashes(*pages: HTMLResponse) -> list[str]:
    hashes = {base64.b64encode(hashlib.sha256(script).digest()).decode()
              for page in pages for script in INLINE_SCRIPT.findall(bytes(page.body))}
    return sorted(f"'sha256-{digest}'" for digest in hashes)


_SCRIPTS = " ".join(_script_hashes(_swagger(), get_swagger_ui_oauth2_redirect_html()))
DOCS_CSP = ("default-src 'none'; "
            f"script-src 'self' {_SCRIPTS}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; worker-src 'self' blob:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
"""Scripts only from this origin or the pages' own inline scripts (by hash); Swagger UI and
ReDoc set inline styles, so styles may be inline."""


def install_docs(app: FastAPI) -> None:
    """Serve /docs, /docs/oauth2-redirect and /redoc with locally served assets (create the app
    with docs_url=None and redoc_url=None)."""
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _swagger()

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _redoc()
