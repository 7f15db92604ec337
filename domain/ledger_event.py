"""Base of every stored event: string stream ids and the who/what/when/why of Part 11."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import CanCreateTimestamp, CanMutateAggregate, MetaDomainEvent


class LedgerEvent(CanMutateAggregate[str], CanCreateTimestamp, metaclass=MetaDomainEvent):
    """A frozen fact in a named stream; all fields below are inside the hashed stored bytes."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    event_id: str
    actor: str
    role: str
    site_id: str | None
    reason: str | None
    client_request_id: str | None
    provenance: dict[str, Any] | None = dataclasses.field(default=None, kw_only=True)
    """Where an imported event came from (the original audit record of another system's
    export: who, role, site, when, why, source id). Absent from every event recorded here,
    so their stored bytes are exactly what they always were; an old event reads as None."""

    def __post_init__(self) -> None:
        if self.__dict__.get("provenance", ...) is None:
            del self.__dict__["provenance"]

    def as_metadata(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "recorded_by": self.actor,
            "role": self.role,
            "site_id": self.site_id,
            "reason": self.reason,
            "client_request_id": self.client_request_id,
        }


@dataclass(frozen=True)
class Author:
    """Who records an administrative event (an account change, a lock, a signature)."""

    username: str
    role: str
    client_request_id: str | None = None
    event_id: str | None = None
    """An imported event's original id (services/exports/odm_import.py); else a fresh one."""
    provenance: dict[str, Any] | None = None
    """An imported event's original audit record, stored inside the event."""

    def fields(self, reason: str | None, site_id: str | None = None) -> dict[str, Any]:
        """The LedgerEvent fields every event carries, with a fresh event id (an import's
        own id and provenance when given)."""
        extra = {"provenance": self.provenance} if self.provenance is not None else {}
        return {"event_id": self.event_id or str(uuid.uuid4()), "actor": self.username,
                "role": self.role, "site_id": site_id, "reason": reason,
                "client_request_id": self.client_request_id, **extra}


SYSTEM = Author("system", "system")
"""The ledger itself, e.g. locking an account after too many failed sign-ins."""
