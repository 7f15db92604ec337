"""Every file that leaves the ledger, recorded in it: one stream `export:<id>` per export.

An export (ODM, SDTM, ADaM, a signed study report) is recorded after its files are written
and before they are handed over, with who asked, what it covers (sites, participant, the
recorded moment replayed, the clinical cutoff) and the SHA-256 and size of each file exactly
as handed over. A file
given to a sponsor or a regulator can later be traced to this event by its hash, and the event
is in the hash chain like every other: the file provably came from this ledger, as it stood
at the recorded moment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.ledger_event import Author, LedgerEvent

EXPORT_STREAM_PREFIX = "export:"
ExportFormat = Literal["odm", "sdtm", "adam", "study-report"]


@dataclass(frozen=True)
class ExportedFile:
    """One file of an export as handed over: its name, SHA-256 (hex) and size in bytes."""

    name: str
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


class ExportRecord(BaseAggregate[str]):
    """One export: a single event, never changed."""

    if TYPE_CHECKING:  # the state the event sets (for the type checker only)
        export_format: str
        scope: dict[str, Any]
        files: list[ExportedFile]
        by: str
        role: str
        reason: str | None

    class Event(LedgerEvent):
        def apply(self, aggregate: ExportRecord) -> None:
            pass

    class ExportProduced(Event, CanInitAggregate[str]):
        """`scope`: sites (None: all), participant_id, as_of (None: everything recorded before
        `produced_at`), cutoff, and for a study report the `signature` it carries (full_name,
        username, signed_at, meaning); `files`: name, sha256, size of each file handed over."""

        originator_topic: str
        export_format: str
        scope: dict[str, Any]
        files: list[dict[str, Any]]

        def apply(self, aggregate: ExportRecord) -> None:
            aggregate.export_format = self.export_format
            aggregate.scope = dict(self.scope)
            aggregate.files = [ExportedFile(**f) for f in self.files]
            aggregate.by = self.actor
            aggregate.role = self.role
            aggregate.reason = self.reason

    @classmethod
    def produced(cls, export_format: ExportFormat, scope: dict[str, Any],
                 files: list[ExportedFile], by: Author, reason: str | None) -> ExportRecord:
        return cls._create(cls.ExportProduced, id=f"{EXPORT_STREAM_PREFIX}{uuid.uuid4()}",
                           export_format=export_format, scope=scope,
                           files=[f.as_dict() for f in files], **by.fields(reason))

    @property
    def export_id(self) -> str:
        return self.id.removeprefix(EXPORT_STREAM_PREFIX)

    def view(self) -> dict[str, Any]:
        return {"export_id": self.export_id, "format": self.export_format,
                "scope": dict(self.scope), "files": [f.as_dict() for f in self.files],
                "exported_by": self.by, "role": self.role, "reason": self.reason}
