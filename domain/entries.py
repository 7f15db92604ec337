"""A participant's entries: as submitted (`NewEntry`), as currently effective (`Entry`), and the
read-only view of a history (`ParticipantHistory`) that the rules and every derivation take.

The rules and the derivations (treatment start, responses, endpoints) only read a history; the
Participant aggregate, which runs the rules before it records, is one such history. Naming the
view here, below both, keeps the aggregate's module above the rules it calls.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar

from domain.events import Payload, stored_payload

P = TypeVar("P", bound=Payload)


def narrowed(payload: Payload, model: type[P], event_type: str, event_id: str) -> P:
    """`payload` as `model`, which a rule reading one entry type expects it to be."""
    if not isinstance(payload, model):
        raise TypeError(f"{event_type} entry {event_id} holds {type(payload).__name__}, "
                        f"not {model.__name__}")
    return payload


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

    @property
    def payload(self) -> Payload:
        """`data` as its type's payload model, built once and kept for as long as the entry
        holds that data (a correction replaces `data`, so the payload is rebuilt): the rules
        read fields by name and type, never by dictionary key."""
        kept: tuple[object, Payload] | None = self.__dict__.get("_payload")
        if kept is not None and kept[0] is self.data:
            return kept[1]
        payload = stored_payload(self.type, self.data)
        self.__dict__["_payload"] = (self.data, payload)
        return payload

    def payload_as(self, model: builtins.type[P]) -> P:
        """The payload, which must be of `model` (a rule reading one entry type)."""
        return narrowed(self.payload, model, self.type, self.event_id)


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

    def payload_as(self, model: builtins.type[P]) -> P:
        """The validated payload, which must be of `model`."""
        return narrowed(self.data, model, self.type, self.event_id)

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


class RecordedEntry(Protocol):
    """What a derivation reads of one recorded entry (an `Entry`, or a projection's copy)."""

    @property
    def type(self) -> str: ...

    @property
    def occurred_on(self) -> date: ...

    @property
    def version(self) -> int: ...

    @property
    def payload(self) -> Payload: ...


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
