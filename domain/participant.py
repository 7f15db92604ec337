"""The Participant aggregate: one event stream per participant, folded into its entries.

Every command is checked against the participant's history before an event is triggered
(`domain.rules`); a correction or void never removes the earlier event, it only changes
the effective view.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, TypedDict

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain import rules
from domain.entries import Entry, NewEntry
from domain.errors import RuleViolation
from domain.events import (
    ADMINISTRATIVE_TYPES,
    CATALOGUE,
    EntryCorrectedData,
    EntryVoidedData,
    ParticipantEnrolledData,
)
from domain.ledger_event import Author, LedgerEvent
from domain.locks import DataLock
from domain.signature import Signature

__all__ = ["RECORD_KEEPING_TYPES", "NewEntry", "Participant"]
"""NewEntry (defined below the rules, in domain.entries) is what the aggregate's commands take."""

RECORD_KEEPING_TYPES = frozenset({"CasebookSigned", "ParticipantLocked", "ParticipantUnlocked",
                                  "ParticipantTransferred"})
"""Events about the record, not the patient: not postable, never corrected, never signed over."""


class CorrectionData(TypedDict):
    """EntryCorrected's data (version 2): the entry it corrects, that entry's data whole, and
    its new clinical date or None to keep it."""

    corrects: str
    data: dict[str, Any]
    occurred_on: str | None


class VoidData(TypedDict):
    voids: str


class SignatureData(TypedDict):
    signer: str
    full_name: str
    meaning: str
    covers_version: int
    covers_hash: str


class TransferData(TypedDict):
    from_site: str
    to_site: str


class Participant(BaseAggregate[str]):
    """A trial participant's casebook, as the fold of their events."""

    if TYPE_CHECKING:  # the state the events set (for the type checker only)
        entries: dict[str, Entry]
        site_id: str
        signatures: list[Signature]
        data_lock: DataLock | None
        transferred: bool

    class Event(LedgerEvent):
        """Every event of the stream; a clinical entry (a dose, a scan, an AE, a death, ...)
        applies as itself: recorded, and every standing signature invalidated."""

        occurred_on: str
        data: Mapping[str, Any]

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_clinical(self)

    class ParticipantEnrolled(Event, CanInitAggregate[str]):
        originator_topic: str

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_enrolled(self)

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
        data: CorrectionData

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["data"] = {**state["data"], "occurred_on": state["occurred_on"]}

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_corrected(self)

    class EntryVoided(Event):
        data: VoidData

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_voided(self)

    class CasebookSigned(Event):
        """data: signer, full_name, meaning, covers_version, covers_hash."""

        data: SignatureData

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_signed(self)

    class ParticipantLocked(Event):
        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_locked(self)

    class ParticipantUnlocked(Event):
        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_unlocked(self)

    class ParticipantTransferred(Event):
        """data: from_site, to_site. A data manager's move of the participant's care to
        another site (the enrolment's site is history and stays as entered)."""

        data: TransferData

        def apply(self, aggregate: Participant) -> None:
            aggregate.apply_transferred(self)

    @classmethod
    def event_class(cls, type_name: str) -> type[Participant.Event]:
        if type_name not in CATALOGUE:
            raise KeyError(f"unknown event type {type_name!r}")
        event_class: type[Participant.Event] = getattr(cls, type_name)
        return event_class

    @classmethod
    def enroll(cls, participant_id: str, entry: NewEntry, *, today: date) -> Participant:
        """Start a participant's stream with their enrollment."""
        rules.check_enrollment(entry, today=today)
        site_id = entry.payload_as(ParticipantEnrolledData).site_id
        return cls._create(
            cls.ParticipantEnrolled, id=participant_id, **entry.event_fields(site_id)
        )

    def record(self, entry: NewEntry, *, today: date) -> None:
        """Record any later entry, after the rules have accepted it and the history it makes."""
        self.check_not_record_keeping_target(entry)
        rules.check_entry(self, entry, today=today)
        rules.check_applied(self.tried(entry), entry)
        self.append(entry)

    def recorded(self, entry: NewEntry, *, today: date) -> Participant:
        """`record` on a copy: the participant with the entry's event pending, after the same
        rule checks, while this one (which readers may hold) stays as it was. One copy: the
        rules for the history the entry makes read the copy itself."""
        self.check_not_record_keeping_target(entry)
        rules.check_entry(self, entry, today=today)
        decided = self.trial_copy()
        decided.append(entry)
        rules.check_applied(decided, entry)
        return decided

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
        if self.data_lock is not None:
            raise RuleViolation("already_locked", f"participant {self.id} is already locked "
                                                  f"(by {self.data_lock.by}: {self.data_lock.reason})")
        self.trigger_event(self.ParticipantLocked, occurred_on=on.isoformat(), data={},
                           **by.fields(reason, self.site_id))

    def unlock_record(self, *, on: date, by: Author, reason: str) -> None:
        if self.data_lock is None:
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
        correction = entry.payload_as(EntryCorrectedData)
        target = self.entries.get(correction.corrects)
        if target is None or target.type != "ParticipantEnrolled":
            return None
        new_site = correction.data.get("site_id")
        return str(new_site) if new_site is not None and new_site != self.site_id else None

    def check_not_record_keeping_target(self, entry: NewEntry) -> None:
        """A signature or a lock is never corrected or voided (it would rewrite what was signed
        or who locked); a later entry invalidates a signature, an unlock ends a lock."""
        if entry.type not in ADMINISTRATIVE_TYPES:
            return
        payload = entry.data
        named = (payload.corrects if isinstance(payload, EntryCorrectedData)
                 else payload.voids if isinstance(payload, EntryVoidedData) else "")
        target = self.entries.get(named)
        if target is not None and target.type in RECORD_KEEPING_TYPES:
            verb = "corrected" if entry.type == "EntryCorrected" else "voided"
            raise RuleViolation(
                "record_keeping_not_correctable",
                f"event {target.event_id} is a {target.type}, which is never {verb}: "
                + ("a later entry invalidates a signature; sign again after the change"
                   if target.type == "CasebookSigned" else "unlock the participant instead"),
            )

    def trial_copy(self) -> Participant:
        """A cheap copy to try an entry on, sharing every entry and signature with this one:
        applying an event adds entries and replaces (never changes) the entries and
        signatures it affects (`_own_entry`, `_invalidate_signatures`), so this participant,
        which readers may hold, is never changed through the copy."""
        trial = copy.copy(self)
        trial.entries = dict(self.entries)
        trial.signatures = list(self.signatures)
        trial._pending_events = []
        return trial

    def tried(self, entry: NewEntry) -> Participant:
        """A trial copy with `entry` applied as its event would be (this participant, its
        version and its pending events are left as they were), for the rules to check."""
        trial = self.trial_copy()
        fields: dict[str, Any] = {"originator_id": self.id,
                                  "originator_version": self.version + 1,
                                  "timestamp": self.modified_on,
                                  **entry.event_fields(self.site_id)}
        self.event_class(entry.type)(**fields).apply(trial)
        return trial

    # -- folding: each event's `apply` calls the one method below for its kind -------------

    def _enter(self, event: Participant.Event) -> None:
        """Keep the event as an entry under its id (the effective view leaves out what it must)."""
        self.entries[event.event_id] = Entry(
            event_id=event.event_id,
            type=type(event).__name__,
            version=event.originator_version,
            occurred_on=date.fromisoformat(event.occurred_on),
            data=dict(event.data),
            reason=event.reason,
            actor=event.actor,
            role=event.role,
        )

    def _own_entry(self, event_id: str) -> Entry:
        """The entry, as an object of this participant's own: a copy replaces the one it may
        share with the participant it was copied from, so changing it changes only this one."""
        entry = copy.copy(self.entries[event_id])
        self.entries[event_id] = entry
        return entry

    def _invalidate_signatures(self, event_id: str) -> None:
        """Any later change to the record invalidates every signature standing before it (each
        replaced by an invalidated copy: signatures may be shared with a trial copy)."""
        if any(signature.invalidated_by is None for signature in self.signatures):
            self.signatures = [replace(signature, invalidated_by=event_id)
                               if signature.invalidated_by is None else signature
                               for signature in self.signatures]

    def apply_enrolled(self, event: Participant.ParticipantEnrolled) -> None:
        self.entries = {}
        self.site_id = str(event.data["site_id"])
        self.signatures = []
        self.data_lock = None
        self.transferred = False
        self._enter(event)

    def apply_clinical(self, event: Participant.Event) -> None:
        self._enter(event)
        self._invalidate_signatures(event.event_id)

    def apply_corrected(self, event: Participant.EntryCorrected) -> None:
        """The target's data is replaced whole, and its clinical date when one is given; a
        corrected enrolment site is the participant's site unless they were transferred."""
        self._enter(event)
        correction = event.data
        target = self._own_entry(correction["corrects"])
        target.data = dict(correction["data"])
        new_date = correction.get("occurred_on")
        if new_date is not None:
            target.occurred_on = date.fromisoformat(new_date)
        target.corrected_by = [*target.corrected_by, event.event_id]
        if target.type == "ParticipantEnrolled" and not self.transferred:
            self.site_id = str(target.data["site_id"])
        self._invalidate_signatures(event.event_id)

    def apply_voided(self, event: Participant.EntryVoided) -> None:
        self._enter(event)
        self._own_entry(event.data["voids"]).voided_by = event.event_id
        self._invalidate_signatures(event.event_id)

    def apply_signed(self, event: Participant.CasebookSigned) -> None:
        self._enter(event)
        self.signatures = [*self.signatures,
                           Signature(event.event_id, event.originator_version, **event.data)]

    def apply_locked(self, event: Participant.ParticipantLocked) -> None:
        self._enter(event)
        self.data_lock = DataLock(event.actor, event.role, event.reason or "",
                               event.originator_version)

    def apply_unlocked(self, event: Participant.ParticipantUnlocked) -> None:
        self._enter(event)
        self.data_lock = None

    def apply_transferred(self, event: Participant.ParticipantTransferred) -> None:
        self._enter(event)
        self.site_id = str(event.data["to_site"])
        self.transferred = True

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
