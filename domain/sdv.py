"""Source-data verification of one participant: stream `sdv:<participant_id>`.

A monitor compares entries with the hospital's records (the source) and marks them verified,
one by one or a whole visit (every entry of one clinical date). A mark is bound to what was
verified: the SHA-256 of the entry's content as it then stood and the participant stream's
version the monitor saw. A later correction or void of the entry withdraws the mark: the
ledger records `VerificationWithdrawn` (by the system, naming the correction or void), and
the entry is to be verified again. Until that withdrawal is recorded, a read shows the mark as
withdrawn pending record (`stale_because`), never as verified.

The marks live in a stream of their own, not in the participant's: verifying is a monitor's
act about the casebook, not a change to it, so it never invalidates a signature, is never
refused by a lock, and never moves the participant's version that a site's write relies on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.entries import Entry
from domain.errors import FieldProblem, InvalidEntry, RuleViolation
from domain.events import ADMINISTRATIVE_TYPES
from domain.ledger_event import SYSTEM, Author, LedgerEvent
from domain.participant import RECORD_KEEPING_TYPES, Participant

SDV_STREAM_PREFIX = "sdv:"


def sdv_stream_id(participant_id: str) -> str:
    return f"{SDV_STREAM_PREFIX}{participant_id}"


def entry_sha256(entry: Entry) -> str:
    """The SHA-256 of an entry's content as it stands (type, clinical date, data)."""
    content = {"event_id": entry.event_id, "type": entry.type,
               "occurred_on": entry.occurred_on.isoformat(), "data": entry.data}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=True).encode()).hexdigest()


@dataclass(frozen=True)
class Mark:
    """One verification of one entry, and its withdrawal if there was one."""

    event_id: str
    entry_sha256: str
    participant_version: int
    visit: str | None
    comment: str | None
    by: str
    version: int
    withdrawn_because: str | None = None
    withdrawn_version: int | None = None

    @property
    def standing(self) -> bool:
        return self.withdrawn_because is None


def verifiable(entry: Entry) -> bool:
    """An effective clinical entry: not voided, not a correction, void or record keeping."""
    return (entry.voided_by is None and entry.type not in ADMINISTRATIVE_TYPES
            and entry.type not in RECORD_KEEPING_TYPES)


def stale_because(mark: Mark, participant: Participant) -> str | None:
    """The first correction or void of the entry recorded after the mark (None: none)."""
    entry = participant.entries.get(mark.event_id)
    if entry is None:
        return None
    later = [event_id for event_id in (*entry.corrected_by, entry.voided_by)
             if event_id is not None and event_id in participant.entries
             and participant.entries[event_id].version > mark.participant_version]
    return min(later, key=lambda event_id: participant.entries[event_id].version, default=None)


class SourceVerification(BaseAggregate[str]):
    """The SDV marks on one participant's entries, with every withdrawal."""

    if TYPE_CHECKING:  # set by the events' `apply`, not fields of the aggregate's __init__
        participant_id: str
        marks: dict[str, tuple[Mark, ...]]

    class Event(LedgerEvent):
        def apply(self, aggregate: SourceVerification) -> None:
            pass

    class SourceVerificationOpened(Event, CanInitAggregate[str]):
        """Opens the stream; recorded with the first marks, in the same transaction."""

        originator_topic: str
        participant_id: str

        def apply(self, aggregate: SourceVerification) -> None:
            aggregate.participant_id = self.participant_id
            aggregate.marks = {}

    class EventsVerified(Event):
        """`entries`: event_id and entry_sha256 of each entry verified; `participant_version`:
        the participant stream's version the monitor verified against."""

        entries: list[dict[str, str]]
        participant_version: int
        visit: str | None
        visit_on: str | None
        comment: str | None

        def apply(self, aggregate: SourceVerification) -> None:
            marks = dict(aggregate.marks)
            for item in self.entries:
                mark = Mark(item["event_id"], item["entry_sha256"], self.participant_version,
                            self.visit, self.comment, self.actor, self.originator_version)
                marks[item["event_id"]] = (*marks.get(item["event_id"], ()), mark)
            aggregate.marks = marks

    class VerificationWithdrawn(Event):
        """The mark on `withdraws` (an entry's event id) no longer stands: `because` (a
        correction or void of it) changed the entry after it was verified."""

        withdraws: str
        because: str

        def apply(self, aggregate: SourceVerification) -> None:
            *earlier, last = aggregate.marks[self.withdraws]
            aggregate.marks = {**aggregate.marks, self.withdraws: (*earlier, replace(
                last, withdrawn_because=self.because,
                withdrawn_version=self.originator_version))}

    @classmethod
    def open(cls, participant_id: str, by: Author, site_id: str) -> SourceVerification:
        return cls._create(cls.SourceVerificationOpened, id=sdv_stream_id(participant_id),
                           participant_id=participant_id,
                           **by.fields("first source-data verification", site_id))

    def current(self, event_id: str) -> Mark | None:
        """The newest mark on an entry, standing or withdrawn."""
        marks = self.marks.get(event_id, ())
        return marks[-1] if marks else None

    def verify(self, participant: Participant, event_ids: list[str], by: Author, *,
               visit: str | None = None, visit_on: date | None = None,
               comment: str | None = None) -> None:
        """Mark entries verified against `participant` as it stands. An id that is not the
        participant's is refused (422); one that is not an effective clinical entry, or whose
        standing mark still holds, is refused (409). A mark that no longer holds is withdrawn
        first, in the same write."""
        problems = [FieldProblem(f"event_ids.{index}", f"not an event of participant "
                                                       f"{participant.id}")
                    for index, event_id in enumerate(event_ids)
                    if event_id not in participant.entries]
        problems += [FieldProblem(f"event_ids.{index}", "listed twice")
                     for index, event_id in enumerate(event_ids)
                     if event_id in event_ids[:index]]
        if problems:
            raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)
        for event_id in event_ids:
            entry = participant.entries[event_id]
            if not verifiable(entry):
                what = "voided" if entry.voided_by else f"a {entry.type}, not a clinical entry"
                raise RuleViolation("not_verifiable", f"event {event_id} is {what}: only an "
                                    "effective clinical entry is verified against source")
            mark = self.current(event_id)
            if mark is not None and mark.standing and stale_because(mark, participant) is None:
                raise RuleViolation("already_verified", f"event {event_id} ({entry.type}) was "
                                    f"verified by {mark.by} and has not changed since")
        self.withdraw_stale(participant, only=event_ids)
        self.trigger_event(
            self.EventsVerified, entries=[
                {"event_id": event_id,
                 "entry_sha256": entry_sha256(participant.entries[event_id])}
                for event_id in event_ids],
            participant_version=participant.version, visit=visit,
            visit_on=None if visit_on is None else visit_on.isoformat(), comment=comment,
            **by.fields(None, participant.site_id))

    def withdraw_stale(self, participant: Participant, only: list[str] | None = None
                       ) -> list[str]:
        """Record the withdrawal of every standing mark whose entry was corrected or voided
        after it (of `only` these entries, when given); the entries' event ids."""
        withdrawn = []
        for event_id in (self.marks if only is None else only):
            mark = self.current(event_id)
            because = None if mark is None or not mark.standing else stale_because(
                mark, participant)
            if because is not None:
                self.trigger_event(self.VerificationWithdrawn, withdraws=event_id,
                                   because=because,
                                   **SYSTEM.fields("the verified entry was changed "
                                                   "after it was verified",
                                                   participant.site_id))
                withdrawn.append(event_id)
        return withdrawn


def visit_entries(participant: Participant, on: date,
                  verification: SourceVerification | None) -> list[str]:
    """The effective clinical entries dated `on` that have no mark standing and still
    holding: what verifying the visit of that day marks."""
    chosen = []
    for entry in participant.effective_entries():
        if entry.occurred_on != on:
            continue
        mark = verification.current(entry.event_id) if verification else None
        if mark is None or not mark.standing or stale_because(mark, participant) is not None:
            chosen.append(entry.event_id)
    return chosen
