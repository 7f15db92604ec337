"""ASGI middleware: request id and access log, a body size limit, hygiene of the query string
and of the headers the service reads, and the security headers of every response."""

from __future__ import annotations

import json
import re
import time
import unicodedata
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.text import text_problem
from infra.logging import get_logger
from services.api.security_headers import security_headers

log = get_logger("trial_ledger.http")
Refusal = tuple[int, str, str, list[dict[str, str]]]
"""An answer given instead of the application's: status, title, detail, errors."""

REQUEST_ID = re.compile(r"[\x21-\x7e]{1,64}")
"""A client's X-Request-ID is kept only if it is 1-64 visible ASCII characters."""
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,200}")
"""An Idempotency-Key is 1-200 printable ASCII characters (no controls, no bidi, no
zero-width characters: a key is compared byte for byte and shown in messages)."""


class RequestContext:
    """Binds request_id (X-Request-ID or a new one) and logs method, path, status, duration.

    Before the application sees a request: a body over `max_body_bytes` (declared or, when
    chunked, counted) gets 413; a query parameter with a code point no client text may hold
    (domain.text) or a malformed Idempotency-Key gets 422; query values are normalised to NFC.
    Every response gets the security headers of services.api.security_headers."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Header values are bytes; latin-1 maps each byte to one code point and never fails.
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        given_id = headers.get("x-request-id", "")
        request_id = given_id if REQUEST_ID.fullmatch(given_id) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = security_headers(
                    scope.get("path", ""), message.get("headers", []), request_id)
            await send(message)

        try:
            body: list[Message] = []
            refusal = self._refusal(scope, headers)
            if refusal is None:
                body, refusal = await self._read_body(receive)
            if refusal is not None:
                await _send_problem(send_with_headers, *refusal)
            else:
                await self.app(scope, _replay(body, receive), send_with_headers)
        finally:
            self._log(scope, status["code"], started)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> Refusal | None:
        """A 413 or 422 answer for the request line and headers, or None."""
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_large()
        key = headers.get("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            msg = ("must be 1-200 printable ASCII characters (no control, bidirectional or "
                   "zero-width characters)")
            return _invalid("header.Idempotency-Key", msg)
        query = scope.get("query_string", b"").decode("latin-1")
        if not query:
            return None
        pairs = parse_qsl(query, keep_blank_values=True, errors="replace")
        for name, value in pairs:
            problem = text_problem(value)
            if problem is not None:
                return _invalid(f"query.{name}", problem)
        normal = [(name, unicodedata.normalize("NFC", value)) for name, value in pairs]
        if normal != pairs:
            scope["query_string"] = urlencode(normal).encode("ascii")
        return None

    async def _read_body(self, receive: Receive) -> tuple[list[Message], Refusal | None]:
        """The request body's messages, read up front so that a body over the limit (a
        chunked one has no Content-Length) is refused with 413 before the application runs."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, None
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return messages, self._too_large()
            if not message.get("more_body", False):
                return messages, None

    def _too_large(self) -> Refusal:
        return (413, "Request too large",
                f"the request body is larger than {self.max_body_bytes} bytes", [])

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        fields: dict[str, Any] = {
            "method": scope.get("method"), "path": scope.get("path"), "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        (log.warning if status >= 400 else log.info)("request", **fields)


def _invalid(loc: str, msg: str) -> Refusal:
    return 422, "Invalid request", f"{loc}: {msg}", [{"loc": loc, "msg": msg}]


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands the application the body already read, then the real channel
    (for the disconnect message)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _send_problem(send: Send, status: int, title: str, detail: str,
                        errors: list[dict[str, str]]) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status,
                       "detail": detail, "errors": errors}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
