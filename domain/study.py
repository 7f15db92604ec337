"""Study-wide record keeping in one stream `study`: declared data cutoffs and the database lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.errors import FieldProblem, InvalidEntry, RuleViolation
from domain.ledger_event import Author, LedgerEvent
from domain.locks import DataLock

STUDY_STREAM_ID = "study"
CUTOFF_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Cutoff:
    """A named clinical cutoff date an analysis can be asked for (e.g. `primary-analysis`)."""

    name: str
    cutoff_on: date
    reason: str
    declared_by: str
    version: int


class Study(BaseAggregate[str]):
    """The trial's own record: what the data managers declared about the data as a whole."""

    if TYPE_CHECKING:  # the state the events set (for the type checker only)
        cutoffs: dict[str, Cutoff]
        database_lock: DataLock | None

    class Event(LedgerEvent):
        def apply(self, aggregate: Study) -> None:
            pass

    class StudyRecordOpened(Event, CanInitAggregate[str]):
        """Opens the stream; recorded with the first declaration, in the same transaction."""

        originator_topic: str

        def apply(self, aggregate: Study) -> None:
            aggregate.cutoffs = {}
            aggregate.database_lock = None

    class DataCutoffDeclared(Event):
        name: str
        cutoff_on: str

        def apply(self, aggregate: Study) -> None:
            aggregate.cutoffs[self.name] = Cutoff(self.name, date.fromisoformat(self.cutoff_on),
                                                  self.reason or "", self.actor,
                                                  self.originator_version)

    class DatabaseLocked(Event):
        def apply(self, aggregate: Study) -> None:
            aggregate.database_lock = DataLock(self.actor, self.role, self.reason or "",
                                        self.originator_version)

    class DatabaseUnlocked(Event):
        def apply(self, aggregate: Study) -> None:
            aggregate.database_lock = None

    @classmethod
    def open(cls, by: Author) -> Study:
        return cls._create(cls.StudyRecordOpened, id=STUDY_STREAM_ID,
                           **by.fields("first study-level declaration"))

    def declare_cutoff(self, name: str, cutoff_on: date, by: Author, reason: str) -> None:
        if not CUTOFF_NAME.match(name):
            raise InvalidEntry(f"cutoff name {name!r} must start with a letter and use letters, "
                               "digits, . _ - (at most 64), e.g. primary-analysis",
                               [FieldProblem("name", "letters, digits, . _ -; a letter first")])
        if name in self.cutoffs:
            earlier = self.cutoffs[name]
            raise RuleViolation("cutoff_name_unique",
                                f"a cutoff named {name!r} was already declared "
                                f"({earlier.cutoff_on}, by {earlier.declared_by}): "
                                "a declared cutoff never changes; choose a new name")
        self.trigger_event(self.DataCutoffDeclared, name=name, cutoff_on=cutoff_on.isoformat(),
                           **by.fields(reason))

    def lock_database(self, by: Author, reason: str) -> None:
        if self.database_lock is not None:
            raise RuleViolation("already_locked", f"the database is already locked "
                                                  f"(by {self.database_lock.by}: {self.database_lock.reason})")
        self.trigger_event(self.DatabaseLocked, **by.fields(reason))

    def unlock_database(self, by: Author, reason: str) -> None:
        if self.database_lock is None:
            raise RuleViolation("not_locked", "the database is not locked")
        self.trigger_event(self.DatabaseUnlocked, **by.fields(reason))

    def cutoff_views(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "cutoff_on": c.cutoff_on.isoformat(), "reason": c.reason,
                 "declared_by": c.declared_by, "version": c.version}
                for c in sorted(self.cutoffs.values(), key=lambda c: c.version)]
