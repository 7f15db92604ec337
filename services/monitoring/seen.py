"""What the reactions runner hands a reaction: one committed event and its stream's state
(the interface services/monitoring/policies.py documents), apart from the reactions so that
each reaction's module can name it without importing the others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.application import TrialLedger


@dataclass(frozen=True)
class SeenEvent:
    """One recorded event as the runner hands it to the reactions."""

    stream_id: str
    version: int
    position: int
    event: Any
    fold: Callable[[], Any] = field(repr=False, compare=False, default=lambda: None)

    def aggregate(self) -> Any:
        """The stream's aggregate just after this event."""
        return self.fold()


Reaction = Callable[[TrialLedger, SeenEvent], None]
