"""Base of every stored event: string stream ids and the who/what/when/why of Part 11."""

from __future__ import annotations

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

    def as_metadata(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "recorded_by": self.actor,
            "role": self.role,
            "site_id": self.site_id,
            "reason": self.reason,
            "client_request_id": self.client_request_id,
        }
