"""Sign-in failures for usernames that have no account, in a stream `security:login`.

The typed name is never stored: it may be a password typed into the wrong field, and anyone
can type any number of names. A failure records only a keyed digest of it (the same name gives
the same digest, so repeated guesses can be told apart from one another) under the actor
`unknown`, and how many unknown-username failures went unrecorded before it because too many
came at once (see services/authentication.py). Version 1 events named the actor after the typed
name when it looked like a username; they still load.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.ledger_event import SYSTEM, Author, LedgerEvent

SECURITY_LOG_ID = "security:login"
UNKNOWN = "unknown"
"""The actor of every failure recorded here."""


class SecurityLog(BaseAggregate[str]):
    """Refused sign-ins that belong to no account."""

    class Event(LedgerEvent):
        def apply(self, aggregate: SecurityLog) -> None:
            pass

    class SecurityLogOpened(Event, CanInitAggregate[str]):
        """Opens the stream; recorded with its first failure, in the same transaction."""

        originator_topic: str

    class LoginFailed(Event):
        """v2 adds `username_digest` and `unrecorded_before` (v1 events: None and 0)."""

        class_version = 2
        username_digest: str | None
        unrecorded_before: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["username_digest"] = None
            state["unrecorded_before"] = 0

    @classmethod
    def open(cls) -> SecurityLog:
        return cls._create(cls.SecurityLogOpened, id=SECURITY_LOG_ID,
                           **SYSTEM.fields("first sign-in failure for an unknown username"))

    def unknown_user(self, username_digest: str, client_request_id: str | None,
                     unrecorded_before: int = 0) -> None:
        """Record one failure by its keyed digest (never the typed name)."""
        author = Author(UNKNOWN, "none", client_request_id)
        self.trigger_event(self.LoginFailed, username_digest=username_digest,
                           unrecorded_before=unrecorded_before,
                           **author.fields("unknown username"))
