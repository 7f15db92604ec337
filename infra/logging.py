"""structlog JSON lines: request id, user, participant, event type, position; never secrets.

A last-line redaction processor drops any key that could carry a password, a token or a
free-text clinical value, whoever logged it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED_KEYS = frozenset({
    "password", "new_password", "current_password", "token", "access_token", "authorization",
    "secret",
    "data", "reason", "cause", "term", "therapy", "body", "meaning",
})


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in REDACTED_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


class _StandardError:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured (a
    command run in-process, e.g. under a test runner, may swap stderr and close its own)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """JSON lines on stderr (or `stream`), one object per event."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # One write per line (print would write the line and its newline apart): lines of
        # several processes sharing one stream never cut into each other.
        logger_factory=structlog.WriteLoggerFactory(stream or _StandardError()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "trial_ledger") -> Any:
    return structlog.get_logger(name)
