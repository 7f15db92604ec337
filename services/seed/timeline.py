"""One participant's timeline: the dates every part of their plan keeps to, and the events
planned so far (drafts), each with the date from which it can be entered.

The participant's random stream is shared by every part (services/seed/participant.py calls
them in a fixed order), so the same seed gives the same trial."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.seed.trial_calendar import DATA_CUTOFF


@dataclass
class Draft:
    """An event being planned; `anchor` is the date from which it can be entered."""

    type: str
    occurred_on: date
    data: dict[str, Any]
    reason: str | None = None
    anchor: date | None = None
    by_data_manager: bool = False
    refers_to: Draft | None = None
    entry_lag: int = 0


class Timeline:
    """Enrollment, treatment start (the first TACE), death and withdrawal as planned (None when
    after the cutoff), and the drafts: nothing is dated after death or the cutoff."""

    def __init__(self, rng: random.Random, enrolled_on: date, start: date,
                 died_on: date | None, withdrew_on: date | None) -> None:
        self.rng = rng
        self.enrolled_on = enrolled_on
        self.start = start
        """Treatment start: the first TACE."""
        self.died_on = died_on
        self.withdrew_on = withdrew_on
        self.last_on = min(d for d in (self.died_on, DATA_CUTOFF) if d is not None)
        """Nothing is dated after death or the cutoff."""
        self.drafts: list[Draft] = []

    def add(self, type_name: str, occurred_on: date, data: dict[str, Any], **kw: Any) -> Draft:
        assert self.enrolled_on <= occurred_on <= self.last_on, (type_name, occurred_on)
        draft = Draft(type_name, occurred_on, data, **kw)
        self.drafts.append(draft)
        return draft


class TimelinePart:
    """A part of one participant's plan (scans, treatment, adverse events): it reads the
    timeline's dates, draws from the participant's random stream and adds drafts."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.rng = timeline.rng

    @property
    def start(self) -> date:
        return self.timeline.start

    @property
    def died_on(self) -> date | None:
        return self.timeline.died_on

    @property
    def withdrew_on(self) -> date | None:
        return self.timeline.withdrew_on

    @property
    def last_on(self) -> date:
        return self.timeline.last_on

    def add(self, type_name: str, occurred_on: date, data: dict[str, Any], **kw: Any) -> Draft:
        return self.timeline.add(type_name, occurred_on, data, **kw)
