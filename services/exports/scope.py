"""What one export covers: whose records, as the ledger stood at which moment, at which cutoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from infra.ledger.chain import format_recorded_at


@dataclass(frozen=True)
class ExportScope:
    """The slice of the ledger an export is made from.

    `as_of` is the recorded moment replayed (None: everything recorded so far); `created_at`
    is when the file is produced (ODM's CreationDateTime, and the AsOfDateTime when `as_of`
    is None). `sites` None means every site; `participant_id` narrows to one casebook.
    `cutoff` is the clinical data cutoff the SDTM and ADaM files are derived at."""

    created_at: datetime
    as_of: datetime | None = None
    sites: tuple[str, ...] | None = None
    participant_id: str | None = None
    cutoff: date | None = None

    @property
    def as_of_text(self) -> str | None:
        """`as_of` as the ledger's point-in-time reads take it (canonical RFC 3339, UTC)."""
        return None if self.as_of is None else format_recorded_at(self.as_of)

    @property
    def moment(self) -> datetime:
        """The moment the export describes: `as_of`, else its creation time."""
        return self.as_of if self.as_of is not None else self.created_at

    def covers(self, participant_id: str, site_id: str | None) -> bool:
        """Whether a participant at `site_id` is inside this export."""
        if self.participant_id is not None and participant_id != self.participant_id:
            return False
        return self.sites is None or site_id in self.sites
