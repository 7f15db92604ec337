"""Sign-in failures for usernames that have no account, in a stream `security:login`.

A username that does not match the username pattern is not stored (it may be a password typed
into the wrong field); the event then names the actor `unknown`.
"""

from __future__ import annotations

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.account import USERNAME_PATTERN
from domain.ledger_event import SYSTEM, Author, LedgerEvent

SECURITY_LOG_ID = "security:login"


def attempted_name(username: str) -> str:
    """What may be recorded of a username someone typed: itself if it could be one."""
    return username if USERNAME_PATTERN.match(username) else "unknown"


class SecurityLog(BaseAggregate[str]):
    """Refused sign-ins that belong to no account."""

    class Event(LedgerEvent):
        def apply(self, aggregate: SecurityLog) -> None:
            pass

    class SecurityLogOpened(Event, CanInitAggregate[str]):
        """Opens the stream; recorded with its first failure, in the same transaction."""

        originator_topic: str

    class LoginFailed(Event):
        pass

    @classmethod
    def open(cls) -> SecurityLog:
        return cls._create(cls.SecurityLogOpened, id=SECURITY_LOG_ID,
                           **SYSTEM.fields("first sign-in failure for an unknown username"))

    def unknown_user(self, username: str, client_request_id: str | None) -> None:
        author = Author(attempted_name(username), "none", client_request_id)
        self.trigger_event(self.LoginFailed, **author.fields("unknown username"))
