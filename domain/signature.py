"""Electronic signatures on a participant's casebook (21 CFR Part 11 §11.50, §11.70, §11.200).

A signature names the signer's printed name, the meaning and what it covers: the stream's
version and chain hash before it. Any later entry of that participant invalidates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Signature:
    signature_id: str
    version: int
    signer: str
    full_name: str
    meaning: str
    covers_version: int
    covers_hash: str
    invalidated_by: str | None = None

    @property
    def status(self) -> str:
        return "valid" if self.invalidated_by is None else "invalidated"

    def view(self, participant_id: str, signed_at: str) -> dict[str, Any]:
        """The manifestation of §11.50, as the API, the casebook and the audit report show it."""
        return {
            "signature_id": self.signature_id, "participant_id": participant_id,
            "signer": self.signer, "full_name": self.full_name, "meaning": self.meaning,
            "signed_at": signed_at, "covers_version": self.covers_version,
            "covers_hash": self.covers_hash, "status": self.status,
            "invalidated_by": self.invalidated_by, "version": self.version,
        }
