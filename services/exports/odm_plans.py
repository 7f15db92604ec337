"""What an ODM import plans before it writes: each FormData (or, from another system, each
save of a form) as the command that records it again, and the refusals that stop a file
before anything is written. Shared by the reader of the ledger's own files
(services/exports/odm_import.py) and the reader of another EDC's (odm_foreign.py)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.events import CATALOGUE
from services.application import Submission


class ImportRefused(Exception):
    """The file cannot be imported (not ODM 1.3.2, not valid, or not data this ledger
    records); nothing was written."""


@dataclass(frozen=True)
class Planned:
    """One FormData as the command that records it again."""

    participant_id: str
    kind: str
    """'entry' (clinical, correction, void), 'lock', 'unlock', 'transfer' or 'signature'."""
    submission: Submission | None
    provenance: dict[str, Any]
    today: date
    to_site: str | None = None


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_submission(event_type: str, occurred_on: Any, data: dict[str, Any],
                     provenance: dict[str, Any], where: str) -> Submission:
    """The submission of one imported entry, correction or void, checked by the catalogue's
    payload as an API request is; ImportRefused names the form when it does not pass."""
    try:
        payload = CATALOGUE[event_type].payload.model_validate(data)
        on = date.fromisoformat(str(occurred_on))
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise ImportRefused(f"{where}: not a {event_type} the ledger records: {error}"
                            ) from None
    return Submission(event_type, on, payload, provenance["reason"],
                      provenance=provenance, event_id=provenance["event_id"])
