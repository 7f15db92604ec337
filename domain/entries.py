"""A participant's entries: as submitted (`NewEntry`), as currently effective (`Entry`), and the
read-only view of a history (`ParticipantHistory`) that the rules and every derivation take.

The rules and the derivations (treatment start, responses, endpoints) only read a history; the
Participant aggregate, which runs the rules before it records, is one such history. Naming the
view here, below both, keeps the aggregate's module above the rules it calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from domain.events import Payload


@dataclass
class Entry:
    """One clinical entry as currently effective (corrections applied, voids marked)."""

    event_id: str
    type: str
    version: int
    occurred_on: date
    data: dict[str, Any]
    reason: str | None
    actor: str
    role: str
    corrected_by: list[str] = field(default_factory=list)
    voided_by: str | None = None


@dataclass(frozen=True)
class NewEntry:
    """A validated submission, ready to be checked against history and recorded."""

    event_id: str
    type: str
    occurred_on: date
    data: Payload
    reason: str | None
    actor: str
    role: str
    client_request_id: str | None = None
    provenance: dict[str, Any] | None = None
    """An imported entry's original audit record (services/exports/odm_import.py)."""

    def event_fields(self, site_id: str | None) -> dict[str, Any]:
        """The event's fields; `provenance` only when the entry has one, so an entry made
        here is stored exactly as before."""
        extra = {"provenance": self.provenance} if self.provenance is not None else {}
        return {
            "event_id": self.event_id,
            "occurred_on": self.occurred_on.isoformat(),
            "data": self.data.model_dump(mode="json", exclude_none=False),
            "reason": self.reason,
            "actor": self.actor,
            "role": self.role,
            "site_id": site_id,
            "client_request_id": self.client_request_id,
            **extra,
        }


class ParticipantHistory(Protocol):
    """What the rules and the derivations read of a participant: every entry by event id, and
    the effective clinical entries (corrections applied, voided ones left out)."""

    @property
    def id(self) -> str: ...

    @property
    def entries(self) -> Mapping[str, Entry]: ...

    def effective_entries(self) -> list[Entry]: ...

    def entries_of(self, *types: str) -> list[Entry]: ...

    @property
    def enrollment(self) -> Entry: ...

    @property
    def died_on(self) -> date | None: ...
