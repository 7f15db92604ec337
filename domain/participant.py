"""The Participant aggregate: one event stream per participant, folded into its entries.

Every command is checked against the participant's history before an event is triggered
(`domain.rules`); a correction or void never removes the earlier event, it only changes
the effective view.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.errors import RuleViolation
from domain.events import ADMINISTRATIVE_TYPES, CATALOGUE, Payload
from domain.ledger_event import Author, LedgerEvent
from domain.locks import RecordLock
from domain.signature import Signature

RECORD_KEEPING_TYPES = frozenset({"CasebookSigned", "ParticipantLocked", "ParticipantUnlocked",
                                  "ParticipantTransferred"})
"""Events about the record, not the patient: not postable, never corrected, never signed over."""


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

    def event_fields(self, site_id: str | None) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_on": self.occurred_on.isoformat(),
            "data": self.data.model_dump(mode="json", exclude_none=False),
            "reason": self.reason,
            "actor": self.actor,
            "role": self.role,
            "site_id": site_id,
            "client_request_id": self.client_request_id,
        }


class Participant(BaseAggregate[str]):
    """A trial participant's casebook, as the fold of their events."""

    class Event(LedgerEvent):
        occurred_on: str
        data: dict[str, Any]

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_entry(self)

    class ParticipantEnrolled(Event, CanInitAggregate[str]):
        originator_topic: str

    class DoseAdministered(Event):
        pass

    class DoseModified(Event):
        pass

    class TACEPerformed(Event):
        pass

    class TumorAssessed(Event):
        pass

    class AdverseEventReported(Event):
        pass

    class AdverseEventUpdated(Event):
        pass

    class AdverseEventResolved(Event):
        pass

    class AnticancerTherapyStarted(Event):
        pass

    class FollowUpContact(Event):
        pass

    class ParticipantDied(Event):
        pass

    class ParticipantWithdrew(Event):
        pass

    class EntryCorrected(Event):
        """data: corrects, data (the entry's data, whole) and occurred_on (the entry's new
        clinical date, or None to keep it). Version 1 moved the entry to the correction's own
        date; its upcast says so explicitly, so old corrections fold exactly as they did."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["data"] = {**state["data"], "occurred_on": state["occurred_on"]}

    class EntryVoided(Event):
        pass

    class CasebookSigned(Event):
        """data: signer, full_name, meaning, covers_version, covers_hash."""

    class ParticipantLocked(Event):
        pass

    class ParticipantUnlocked(Event):
        pass

    class ParticipantTransferred(Event):
        """data: from_site, to_site. A data manager's move of the participant's care to
        another site (the enrolment's site is history and stays as entered)."""

    @classmethod
    def event_class(cls, type_name: str) -> type[Participant.Event]:
        if type_name not in CATALOGUE:
            raise KeyError(f"unknown event type {type_name!r}")
        event_class: type[Participant.Event] = getattr(cls, type_name)
        return event_class

    @classmethod
    def enroll(cls, participant_id: str, entry: NewEntry, *, today: date) -> Participant:
        """Start a participant's stream with their enrollment."""
        from domain import rules

        rules.check_enrollment(entry, today=today)
        site_id = str(entry.data.model_dump()["site_id"])
        return cls._create(
            cls.ParticipantEnrolled, id=participant_id, **entry.event_fields(site_id)
        )

    def record(self, entry: NewEntry, *, today: date) -> None:
        """Record any later entry, after the rules have accepted it."""
        from domain import rules

        self.check_not_record_keeping_target(entry)
        rules.check_entry(self, entry, today=today)
        self.append(entry)

    def append(self, entry: NewEntry) -> None:
        """Trigger the event for an entry the rules have accepted (`record` checks, then
        calls this; a fold of already-validated history may call it directly)."""
        fields = entry.event_fields(self.site_id)
        if entry.type == "EntryCorrected":
            # Store the corrected data in the same canonical form as the original entry.
            target = self.entries[fields["data"]["corrects"]]
            schema = CATALOGUE[target.type].payload
            fields["data"]["data"] = schema.model_validate(fields["data"]["data"]).model_dump(
                mode="json")
        self.trigger_event(self.event_class(entry.type), **fields)

    def sign(self, *, full_name: str, meaning: str, covers_hash: str, on: date, by: Author
             ) -> None:
        """Part 11 §11.50/§11.70: the signer's printed name and meaning, bound to the hash of
        the stream as it stands (the caller has re-checked the password, §11.200)."""
        self.trigger_event(self.CasebookSigned, occurred_on=on.isoformat(), data={
            "signer": by.username, "full_name": full_name, "meaning": meaning,
            "covers_version": self.version, "covers_hash": covers_hash,
        }, **by.fields(None, self.site_id))

    def lock_record(self, *, on: date, by: Author, reason: str) -> None:
        if self.lock is not None:
            raise RuleViolation("already_locked", f"participant {self.id} is already locked "
                                                  f"(by {self.lock.by}: {self.lock.reason})")
        self.trigger_event(self.ParticipantLocked, occurred_on=on.isoformat(), data={},
                           **by.fields(reason, self.site_id))

    def unlock_record(self, *, on: date, by: Author, reason: str) -> None:
        if self.lock is None:
            raise RuleViolation("not_locked", f"participant {self.id} is not locked")
        self.trigger_event(self.ParticipantUnlocked, occurred_on=on.isoformat(), data={},
                           **by.fields(reason, self.site_id))

    def transfer(self, to_site: str, *, on: date, by: Author, reason: str) -> None:
        """Move the participant to another site: from then on that site's staff enter and
        read the data, and the old site's staff no longer see it."""
        if to_site == self.site_id:
            raise RuleViolation("same_site", f"participant {self.id} is already at site "
                                             f"{to_site}")
        self.trigger_event(self.ParticipantTransferred, occurred_on=on.isoformat(),
                           data={"from_site": self.site_id, "to_site": to_site},
                           **by.fields(reason, self.site_id))

    def corrected_site(self, entry: NewEntry) -> str | None:
        """The new site a correction would give the participant by correcting the enrolment's
        `site_id`, or None when it leaves the site alone."""
        if entry.type != "EntryCorrected":
            return None
        data = entry.data.model_dump()
        target = self.entries.get(str(data.get("corrects") or ""))
        if target is None or target.type != "ParticipantEnrolled":
            return None
        new_site = (data.get("data") or {}).get("site_id")
        return str(new_site) if new_site is not None and new_site != self.site_id else None

    def check_not_record_keeping_target(self, entry: NewEntry) -> None:
        """A signature or a lock is never corrected or voided (it would rewrite what was signed
        or who locked); a later entry invalidates a signature, an unlock ends a lock."""
        if entry.type not in ADMINISTRATIVE_TYPES:
            return
        data = entry.data.model_dump()
        target = self.entries.get(data.get("corrects") or data.get("voids") or "")
        if target is not None and target.type in RECORD_KEEPING_TYPES:
            verb = "corrected" if entry.type == "EntryCorrected" else "voided"
            raise RuleViolation(
                "record_keeping_not_correctable",
                f"event {target.event_id} is a {target.type}, which is never {verb}: "
                + ("a later entry invalidates a signature; sign again after the change"
                   if target.type == "CasebookSigned" else "unlock the participant instead"),
            )

    def trial_copy(self) -> Participant:
        """A cheap copy to try an entry on: `apply_entry` only rebinds attributes of entries and
        signatures (never mutates shared lists), so shallow copies of those suffice."""
        trial = copy.copy(self)
        trial.entries = {key: copy.copy(entry) for key, entry in self.entries.items()}
        trial.signatures = [copy.copy(signature) for signature in self.signatures]
        trial._pending_events = []
        return trial

    # -- folding -------------------------------------------------------------------------

    def apply_entry(self, event: Participant.Event) -> None:
        type_name = type(event).__name__
        if type_name == "ParticipantEnrolled":
            self.entries: dict[str, Entry] = {}
            self.site_id: str = str(event.data["site_id"])
            self.signatures: list[Signature] = []
            self.lock: RecordLock | None = None
            self.transferred = False
        occurred_on = date.fromisoformat(event.occurred_on)
        self.entries[event.event_id] = Entry(
            event_id=event.event_id,
            type=type_name,
            version=event.originator_version,
            occurred_on=occurred_on,
            data=dict(event.data),
            reason=event.reason,
            actor=event.actor,
            role=event.role,
        )
        if type_name == "EntryCorrected":
            target = self.entries[event.data["corrects"]]
            target.data = dict(event.data["data"])
            if event.data.get("occurred_on") is not None:
                target.occurred_on = date.fromisoformat(event.data["occurred_on"])
            target.corrected_by = [*target.corrected_by, event.event_id]
            if target.type == "ParticipantEnrolled" and not self.transferred:
                self.site_id = str(target.data["site_id"])
        elif type_name == "EntryVoided":
            self.entries[event.data["voids"]].voided_by = event.event_id  # on trial copies too
        if type_name in RECORD_KEEPING_TYPES:
            self.apply_record_keeping(event)
        else:
            for signature in self.signatures:
                if signature.invalidated_by is None:
                    signature.invalidated_by = event.event_id

    def apply_record_keeping(self, event: Participant.Event) -> None:
        type_name = type(event).__name__
        if type_name == "CasebookSigned":
            self.signatures = [*self.signatures,
                               Signature(event.event_id, event.originator_version, **event.data)]
        elif type_name == "ParticipantLocked":
            self.lock = RecordLock(event.actor, event.role, event.reason or "",
                                   event.originator_version)
        elif type_name == "ParticipantTransferred":
            self.site_id = str(event.data["to_site"])
            self.transferred = True
        else:
            self.lock = None

    def effective_entries(self) -> list[Entry]:
        """Clinical entries in stream order, corrections applied and voided ones left out."""
        return [
            entry
            for entry in self.entries.values()
            if entry.voided_by is None and entry.type not in ADMINISTRATIVE_TYPES
            and entry.type not in RECORD_KEEPING_TYPES
        ]

    def entries_of(self, *types: str) -> list[Entry]:
        return [entry for entry in self.effective_entries() if entry.type in types]

    @property
    def enrollment(self) -> Entry:
        return self.entries_of("ParticipantEnrolled")[0]

    @property
    def died_on(self) -> date | None:
        deaths = self.entries_of("ParticipantDied")
        return deaths[0].occurred_on if deaths else None
