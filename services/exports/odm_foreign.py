"""Another EDC's ODM 1.3.2 export of this trial's CRF, read as the events that would have
recorded it: the migration path from a system that keeps its audit trail item by item.

Rave and OpenClinica write an audit record on each changed value (ItemData/AuditRecord), or
once per page (FormData/AuditRecord); an ItemData without its own record takes its group's,
its form's, its visit's or its subject's. Their files may repeat a subject's SubjectData once
per change. The ledger records whole entries, so the changes are regrouped:

- a *save* is the changes to one form instance (StudyEvent and its repeat key, Form and its
  repeat key) made by one user at one DateTimeStamp with one ReasonForChange;
- a correction moves the entry's clinical date only when its save changed the date item;
- a participant's saves are taken in time order (file order among equal stamps);
- the first save of a form instance is its entry; a later one a correction of that entry,
  whose data is the whole form as it stands after the save (a changed value, a row added, a
  row removed with ItemGroupData TransactionType="Remove"); a FormData TransactionType
  "Remove" voids it.

Items are translated by the mapping (services/exports/odm_mapping.py): codes, text dates,
the row each group fills. Every save becomes one event whose provenance is the source's audit
record (user, role from the mapping, site, time, reason, the source ids of its changes), with
an event id derived from the file's hash and the save's place, so importing the same file
twice gives the same ids. Anything the mapping does not name (a form, a group, an item) is
refused with its place before anything is written: nothing is dropped silently.

Unlike the ledger's own files, such a file is held one participant's changes at a time only
when it is written participant by participant; a file ordered by time is held whole.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from services.exports.odm_mapping import Mapping, ResolvedForm, ResolvedItem
from services.exports.odm_model import study_metadata
from services.exports.odm_plans import ImportRefused, Planned, entry_submission
from services.exports.odm_rows import ReadRow, unflatten
from services.exports.odm_xml import q

EVENT_ID_NAMESPACE = uuid.UUID("6f0c1c3e-3b9a-5a59-9a0e-7d1f3c1b2a10")
AUDIT_HOLDERS = ("ItemData", "ItemGroupData", "FormData", "StudyEventData", "SubjectData")


@dataclass(frozen=True)
class Audit:
    user: str
    location: str | None
    stamp: datetime
    reason: str | None
    source_id: str | None
    stamp_text: str = ""
    """The DateTimeStamp as the file wrote it when it is in UTC (`Z`), else converted."""


@dataclass(frozen=True)
class Change:
    """One changed value (item None: a row removed; group None: the form removed)."""

    order: int
    form: tuple[str, str, str, str]
    """StudyEventOID, StudyEventRepeatKey, FormOID, FormRepeatKey."""
    group: tuple[str, str] | None
    item: str | None
    value: str | None
    audit: Audit


def foreign_events(path: str | os.PathLike[str], origin: dict[str, Any], mapping: Mapping
                   ) -> Iterator[Planned]:
    """Every save of the file, participant by participant, as the command that records it."""
    changes, sites = _changes(path, mapping)
    for subject, found in changes.items():
        yield from _subject_events(subject, found, sites.get(subject), origin, mapping)


def _changes(path: str | os.PathLike[str], mapping: Mapping
             ) -> tuple[dict[str, list[Change]], dict[str, str]]:
    changes: dict[str, list[Change]] = defaultdict(list)
    sites: dict[str, str] = {}
    order = 0
    for _, subject in etree.iterparse(os.fspath(path), events=("end",), tag=q("SubjectData"),
                                      no_network=True, resolve_entities=False, huge_tree=True):
        key = str(subject.get("SubjectKey", ""))
        site = subject.find(q("SiteRef"))
        if site is not None:
            sites[key] = mapping.site(str(site.get("LocationOID", "")))
        for visit in subject.iterfind(q("StudyEventData")):
            for form in visit.iterfind(q("FormData")):
                instance = (str(visit.get("StudyEventOID", "")),
                            str(visit.get("StudyEventRepeatKey", "")),
                            str(form.get("FormOID", "")), str(form.get("FormRepeatKey", "")))
                where = f"participant {key}, form {instance[2]} {instance[3]}".rstrip()
                if form.get("TransactionType") == "Remove":
                    order += 1
                    changes[key].append(Change(order, instance, None, None, None,
                                               _audit(form, where)))
                    continue
                for group in form.iterfind(q("ItemGroupData")):
                    row = (str(group.get("ItemGroupOID", "")),
                           str(group.get("ItemGroupRepeatKey", "")))
                    if group.get("TransactionType") == "Remove":
                        order += 1
                        changes[key].append(Change(order, instance, row, None, None,
                                                   _audit(group, where)))
                        continue
                    for item in group.iterfind(q("ItemData")):
                        order += 1
                        value = None if item.get("IsNull") == "Yes" else item.get("Value")
                        if item.get("TransactionType") == "Remove":
                            value = None
                        changes[key].append(Change(order, instance, row,
                                                   str(item.get("ItemOID", "")), value,
                                                   _audit(item, where)))
        subject.clear(keep_tail=False)
        while subject.getprevious() is not None:
            del subject.getparent()[0]
    return changes, sites


def _audit(element: etree._Element, where: str) -> Audit:
    """The audit record that covers `element`: its own, or the nearest enclosing one."""
    node: etree._Element | None = element
    while node is not None and etree.QName(node).localname in AUDIT_HOLDERS:
        audit = node.find(q("AuditRecord"))
        if audit is not None:
            return _read_audit(audit, where)
        node = node.getparent()
    raise ImportRefused(f"{where}: a change without an AuditRecord (on the item, its group, "
                        "its form, its visit or its subject)")


def _read_audit(audit: etree._Element, where: str) -> Audit:
    user = audit.find(q("UserRef"))
    location = audit.find(q("LocationRef"))
    text = (audit.findtext(q("DateTimeStamp")) or "").strip()
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ImportRefused(f"{where}: AuditRecord DateTimeStamp {text!r} is not an ISO 8601 "
                            "date and time") from None
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return Audit(str(user.get("UserOID", "")) if user is not None else "",
                 str(location.get("LocationOID")) if location is not None else None,
                 stamp, audit.findtext(q("ReasonForChange")),
                 audit.findtext(q("SourceID")),
                 text if text.endswith("Z") else stamp.isoformat().replace("+00:00", "Z"))


@dataclass
class FormState:
    """One form instance as the saves so far left it."""

    spec: ResolvedForm
    event_id: str
    rows: dict[tuple[str, str], dict[str, str | None]]
    occurred_on: str | None = None


def _subject_events(subject: str, changes: list[Change], site: str | None,
                    origin: dict[str, Any], mapping: Mapping) -> Iterator[Planned]:
    saves: dict[tuple[Any, ...], list[Change]] = {}
    for change in sorted(changes, key=lambda c: (c.audit.stamp, c.order)):
        kind = "void" if change.group is None else "data"
        key = (change.form, change.audit.user, change.audit.stamp, change.audit.reason, kind)
        saves.setdefault(key, []).append(change)
    forms: dict[tuple[str, str, str, str], FormState] = {}
    for number, ((instance, _, _, _, kind), found) in enumerate(saves.items(), start=1):
        where = f"participant {subject}, form {instance[2]} {instance[3]}".rstrip()
        audit = found[0].audit
        username, role = mapping.user(audit.user, where)
        provenance = {**origin, "user": username, "role": role,
                      "site": mapping.site(audit.location) if audit.location else site,
                      "recorded_at": audit.stamp_text,
                      "reason": audit.reason,
                      "source_id": ",".join(c.audit.source_id for c in found
                                            if c.audit.source_id) or None,
                      "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE,
                                                 f"{origin['file_sha256']}/{subject}/{number}"))}
        state = forms.get(instance)
        made_on = audit.stamp.date()
        if kind == "void":
            if state is None:
                raise ImportRefused(f"{where}: a Remove of a form with no data before it")
            if not audit.reason:
                raise ImportRefused(f"{where}: the Remove at {provenance['recorded_at']} has "
                                    "no ReasonForChange (a void needs its reason)")
            del forms[instance]
            submission = entry_submission("EntryVoided", made_on, {"voids": state.event_id},
                                          provenance, where)
            yield Planned(subject, "entry", submission, provenance, made_on)
            continue
        spec = mapping.forms.get(instance[2])
        if spec is None:
            raise ImportRefused(f"{where}: the mapping names no form {instance[2]!r}")
        if state is None:
            state = forms[instance] = FormState(spec, provenance["event_id"], {})
        _apply(state, found, where)
        data, occurred_on = _event_data(state, site, mapping, where)
        if state.event_id == provenance["event_id"]:
            submission = entry_submission(spec.event_type, occurred_on, data, provenance, where)
        else:
            if not audit.reason:
                raise ImportRefused(f"{where}: a change at {provenance['recorded_at']} has no "
                                    "ReasonForChange (a correction needs its reason)")
            moved = occurred_on if occurred_on != state.occurred_on else None
            submission = entry_submission("EntryCorrected", made_on, {
                "corrects": state.event_id, "occurred_on": moved, "data": data},
                provenance, where)
        state.occurred_on = occurred_on
        yield Planned(subject, "entry", submission, provenance, made_on)


def _apply(state: FormState, changes: list[Change], where: str) -> None:
    for change in changes:
        assert change.group is not None
        group = state.spec.groups.get(change.group[0])
        if group is None:
            raise ImportRefused(f"{where}: the mapping names no item group "
                                f"{change.group[0]!r} in this form")
        if change.item is None:
            state.rows.pop(change.group, None)
            continue
        if change.item not in group.items:
            raise ImportRefused(f"{where}: the mapping names no item {change.item!r} in "
                                f"group {change.group[0]}")
        state.rows.setdefault(change.group, {})[change.item] = change.value


def _event_data(state: FormState, site: str | None, mapping: Mapping, where: str
                ) -> tuple[dict[str, Any], str | None]:
    """The entry's data and clinical date from the form's rows as they stand."""
    main: dict[str, str | None] = {}
    nested: list[ReadRow] = []
    main_group = None
    for (group_oid, key), values in state.rows.items():
        group = state.spec.groups[group_oid]
        translated = {resolved.item.oid: _translate(resolved, value, f"{where}, item {oid}")
                      for oid, value in values.items()
                      for resolved in (group.items[oid],)}
        if group.group.steps:
            nested.append((group.group, translated))
        else:
            main_group = group.group
            main.update(translated)
    if main_group is None:
        raise ImportRefused(f"{where}: no values of the form's own group")
    form = study_metadata().forms[state.spec.event_type]
    data, occurred_on = unflatten(form, [(main_group, main), *nested])
    if not occurred_on:
        raise ImportRefused(f"{where}: no clinical date (map one item to occurred_on)")
    if state.spec.event_type == "ParticipantEnrolled" and data.get("site_id") is None:
        data["site_id"] = site
    return data, occurred_on


def _translate(resolved: ResolvedItem, value: str | None, where: str) -> str | None:
    """A source value as the ledger's item text: its code translated, a text date read."""
    if value is None:
        return None
    value = resolved.source.codes.get(value, value)
    if resolved.source.date_format is not None:
        try:
            return datetime.strptime(value, resolved.source.date_format).date().isoformat()
        except ValueError:
            raise ImportRefused(f"{where}: {value!r} is not a date in the format "
                                f"{resolved.source.date_format!r}") from None
    if resolved.item.data_type == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ImportRefused(f"{where}: {value!r} is not an ISO 8601 date") from None
    return value
