"""Every response tells browsers and proxies what not to do with it: no caching of clinical data
or tokens, no content sniffing, no referrer, no framing, no scripts in rendered HTML, and no
server banner."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx

from services.api.security_headers import HTML_CSP
from tests import story
from tests.acceptance.test_cli_and_server import env, server  # noqa: F401  (fixtures)
from tests.api.conftest import Api

PID = "HCC-01-040"


def _common(response: Any) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "server" not in response.headers
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_token_response_is_never_cached(api: Api) -> None:
    response = api.login("coord1")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    _common(response)


def test_clinical_json_and_problems_are_never_cached_nor_sniffed(api: Api) -> None:
    created = api.post(PID, story.enrollment())
    casebook = api.get(f"/api/v1/participants/{PID}")
    refused = api.post(PID, story.enrollment())
    unknown = api.get("/api/v1/participants/HCC-09-999")
    unauthenticated = api.client.get("/api/v1/participants")
    for response in (created, casebook, refused, unknown, unauthenticated):
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert response.headers["content-security-policy"] == "default-src 'none'; " \
                                                              "frame-ancestors 'none'"
        _common(response)
    assert [r.status_code for r in (created, casebook, refused, unknown, unauthenticated)] == [
        201, 200, 409, 404, 401]


def test_the_html_audit_report_gets_a_strict_content_security_policy(api: Api) -> None:
    api.post(PID, story.enrollment())
    report = api.client.get(f"/api/v1/participants/{PID}/audit-report",
                            headers=api.headers("auditor"))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"] == HTML_CSP
    assert "script-src" not in HTML_CSP and "default-src 'none'" in HTML_CSP
    assert report.headers["cache-control"] == "no-store"
    _common(report)


def test_the_api_docs_load_only_from_this_server(api: Api) -> None:
    """/docs and /redoc work in an isolated network: every script, style and icon they load is
    served by this process, and their policy allows no other host and no unhashed script."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        page = api.client.get(path)
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert "http" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert all(a.startswith("/docs-assets/") for a in assets), assets
        for asset in assets:
            served = api.client.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, asset
        for script in re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy
        _common(page)
    spec = api.client.get("/openapi.json")
    _common(spec)
    assert spec.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_refusal_by_the_middleware_carries_the_headers_too(api: Api) -> None:
    response = api.client.post(f"/api/v1/participants/{PID}/events",
                               content=b"x" * (70 * 1024), headers=api.headers("coord1"))
    assert response.status_code == 413
    assert response.headers["cache-control"] == "no-store"
    _common(response)


def test_the_served_api_sends_no_server_banner(server: str) -> None:  # noqa: F811
    response = httpx.get(f"{server}/health", timeout=5)
    assert response.status_code == 200
    assert "server" not in response.headers
    _common(response)
