"""`import odm`: an ODM 1.3.2 archival file loaded into an empty store, the migration path
from another system: a file of this ledger's own kind (read here), or another EDC's export of
this CRF with a mapping file (services/exports/odm_foreign.py, odm_mapping.py).

Each FormData becomes the event it was written from (services/exports/odm_clinical.py,
inverted): an Insert of a form its entry, an Update its correction (the corrected form's
items are the corrected data, the IG.EntryCorrected row the correction's own fields), a
Remove its void, a lock, unlock or transfer its record-keeping command. Each is recorded
now, by the importing operator (the event's actor; its recorded time is the import's), in
file order, under its original event id, so corrections and voids still name their targets;
the original audit record (who, role, site, when, why, source id) is kept inside the event
as its `provenance`, within the hashed stored bytes. An export of the imported ledger shows
the original audit record again and names the import in a second Annotation.

A casebook signature is not re-created: it was its signer's act, bound to the chain hash
of the original ledger, and cannot be made by anyone else. Signatures are counted and
reported. The study record (ReferenceData: cutoffs, the database lock) is not imported.

The file is checked whole before anything is written: the XSD (`validate_odm`), the
header (an ODM 1.3.2 Transactional file), the store (empty) and every FormData (a form,
group and item the catalogue knows, data the catalogue's payload accepts). A file of the
ledger's own kind is read one SubjectData at a time (lxml iterparse), so memory stays bounded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from domain.errors import RuleViolation
from domain.ledger_event import Author
from domain.participant import RECORD_KEEPING_TYPES
from services.application import Actor, TrialLedger
from services.exports.odm import odm_header, validate_odm, validate_vendor_odm
from services.exports.odm_foreign import foreign_events
from services.exports.odm_mapping import Mapping, as_dict
from services.exports.odm_model import OCCURRED_ON, FormSpec, Metadata, study_metadata
from services.exports.odm_plans import ImportRefused, Planned, entry_submission, file_sha256
from services.exports.odm_rows import ReadRow, typed_value, unflatten
from services.exports.odm_xml import q

SOURCE_ID = re.compile(r"event (?P<event_id>\S+) position (?P<position>\d+)")
USER_PREFIX, LOCATION_PREFIX, FORM_PREFIX = "USR.", "LOC.", "F."


class StoreNotEmpty(Exception):
    """An import needs a store without participants: the file's event ids would collide."""


@dataclass(frozen=True)
class ImportResult:
    events_imported: int
    participants: int
    signatures_not_recreated: int
    file_sha256: str
    file_oid: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_odm(ledger: TrialLedger, path: str | os.PathLike[str], actor: Actor,
               progress: Callable[[int], None] | None = None,
               mapping: Mapping | None = None) -> ImportResult:
    """Load the ODM file at `path` into the empty `ledger` as events recorded by `actor`:
    a file of this ledger's own, or (with `mapping`) another EDC's export of this CRF
    (services/exports/odm_foreign.py).

    Raises ImportRefused (the file) or StoreNotEmpty (the store) before writing anything;
    a rule refusal while recording (RuleViolation) stops the import where it stands."""
    errors = validate_odm(path) if mapping is None else validate_vendor_odm(path)
    if errors:
        raise ImportRefused(f"not a valid ODM 1.3.2 document: {errors[0]}")
    header = odm_header(path)
    if header.get("ODMVersion") != "1.3.2" or header.get("FileType") != "Transactional":
        raise ImportRefused(
            f"expected an ODM 1.3.2 Transactional file (the ledger's archival export), got "
            f"ODMVersion={header.get('ODMVersion')!r} FileType={header.get('FileType')!r}")
    existing = ledger.participant_ids()
    if existing:
        raise StoreNotEmpty(f"the store already has {len(existing)} participants; import "
                            "into an empty store (a new TRIAL_LEDGER_DATABASE_URL)")
    origin: dict[str, Any] = {"source": "odm", "file_sha256": file_sha256(path),
                              "file_oid": header.get("FileOID", "")}
    if mapping is not None:
        origin["mapping"] = as_dict(mapping)

    def plans() -> Iterator[Planned]:
        if mapping is None:
            return planned_events(path, origin)
        return foreign_events(path, origin, mapping)

    try:  # every FormData understood before any write
        for _ in plans():
            pass
    except etree.XMLSyntaxError as error:  # validate_odm stops quietly at a truncated file
        raise ImportRefused(f"not a valid ODM 1.3.2 document: {error}") from None
    events = participants = signatures = 0
    seen: set[str] = set()
    for plan in plans():
        if plan.kind == "signature":
            signatures += 1
            continue
        record(ledger, plan, actor)
        events += 1
        if plan.participant_id not in seen:
            seen.add(plan.participant_id)
            participants += 1
        if progress is not None:
            progress(events)
    return ImportResult(events, participants, signatures, origin["file_sha256"],
                        origin["file_oid"])


def record(ledger: TrialLedger, plan: Planned, actor: Actor) -> None:
    """Record one planned event now, by `actor`, with its provenance and original id."""
    reason = plan.provenance["reason"] or "imported from ODM"
    author = Author(actor.username, actor.role, event_id=plan.provenance["event_id"],
                    provenance=plan.provenance)
    if plan.kind == "entry":
        assert plan.submission is not None
        ledger.record_participant_event(plan.participant_id, plan.submission, actor,
                                        today=plan.today)
    elif plan.kind == "lock":
        ledger.lock_participant(plan.participant_id, author, reason, plan.today)
    elif plan.kind == "unlock":
        ledger.unlock_participant(plan.participant_id, author, reason, plan.today)
    else:
        assert plan.to_site is not None
        ledger.transfer_participant(plan.participant_id, plan.to_site, author, reason,
                                    plan.today)


def planned_events(path: str | os.PathLike[str], origin: dict[str, Any]) -> Iterator[Planned]:
    """Every FormData of the file, in file order, as the command that records it again."""
    metadata = study_metadata()
    for _, subject in etree.iterparse(os.fspath(path), events=("end",),
                                      tag=q("SubjectData"), no_network=True,
                                      resolve_entities=False, huge_tree=True):
        participant_id = subject.get("SubjectKey", "")
        forms: dict[str, FormSpec] = {}
        for form in subject.iterfind(f"{q('StudyEventData')}/{q('FormData')}"):
            yield _plan(metadata, participant_id, form, forms, origin)
        subject.clear(keep_tail=False)
        while subject.getprevious() is not None:
            del subject.getparent()[0]


def _plan(metadata: Metadata, participant_id: str, form: etree._Element,
          forms: dict[str, FormSpec], origin: dict[str, Any]) -> Planned:
    where = (f"participant {participant_id}, form {form.get('FormOID')} "
             f"{form.get('FormRepeatKey')}")
    event_type = str(form.get("FormOID", "")).removeprefix(FORM_PREFIX)
    if event_type not in metadata.forms:
        raise ImportRefused(f"{where}: no such form in the ledger's catalogue")
    spec = metadata.forms[event_type]
    key, transaction = str(form.get("FormRepeatKey", "")), form.get("TransactionType")
    provenance = {**origin, **_audit(form, where)}
    rows = _rows(spec, metadata, form, where)
    today = date.fromisoformat(provenance["recorded_at"][:10])
    if transaction == "Insert" and event_type in RECORD_KEEPING_TYPES:
        data, _ = unflatten(spec, rows)
        kind = {"CasebookSigned": "signature", "ParticipantLocked": "lock",
                "ParticipantUnlocked": "unlock", "ParticipantTransferred": "transfer"}
        return Planned(participant_id, kind[event_type], None, provenance, today,
                       data.get("to_site"))
    if transaction == "Insert" and spec.kind == "clinical":
        data, occurred_on = unflatten(spec, rows)
        forms[key] = spec
        submission = entry_submission(event_type, occurred_on, data, provenance, where)
    elif transaction == "Update" and forms.get(key) is spec:
        record_rows = [values for group, values in rows if group is metadata.correction_group]
        if len(record_rows) != 1:
            raise ImportRefused(f"{where}: a correction needs exactly one IG.EntryCorrected row")
        corrected, _ = unflatten(spec, [(g, v) for g, v in rows
                                        if g is not metadata.correction_group])
        own = {item.field if item.oid != OCCURRED_ON else "": typed_value(
            item, record_rows[0].get(item.oid)) for item in metadata.correction_group.items}
        submission = entry_submission("EntryCorrected", own[""], {
            "corrects": key, "occurred_on": own["occurred_on"], "data": corrected},
            provenance, where)
    elif transaction == "Remove" and forms.pop(key, None) is spec:
        comment = _comment(form)
        submission = entry_submission("EntryVoided", comment.get("occurred_on"), {"voids": key},
                                 provenance, where)
    else:
        raise ImportRefused(f"{where}: a {transaction} of no entry imported before it")
    return Planned(participant_id, "entry", submission, provenance, today)


def _audit(form: etree._Element, where: str) -> dict[str, Any]:
    """The FormData's AuditRecord and role: the provenance of the event made from it."""
    audit = form.find(q("AuditRecord"))
    flag = form.find(f"{q('Annotation')}/{q('Flag')}/{q('FlagValue')}")
    source = audit.findtext(q("SourceID")) if audit is not None else None
    match = SOURCE_ID.fullmatch(source or "")
    if audit is None or match is None or flag is None:
        raise ImportRefused(f"{where}: no audit record of this ledger's kind "
                            "(AuditRecord with SourceID 'event <id> position <n>', role Flag)")
    user = audit.find(q("UserRef"))
    location = audit.find(q("LocationRef"))
    return {
        "user": str(user.get("UserOID", "") if user is not None else "").removeprefix(
            USER_PREFIX),
        "role": flag.text or "",
        "site": str(location.get("LocationOID", "") if location is not None else ""
                    ).removeprefix(LOCATION_PREFIX),
        "recorded_at": audit.findtext(q("DateTimeStamp")) or "",
        "reason": audit.findtext(q("ReasonForChange")),
        "source_id": source,
        "event_id": match["event_id"],
    }


def _comment(form: etree._Element) -> dict[str, Any]:
    text = form.findtext(f"{q('Annotation')}/{q('Comment')}")
    try:
        found = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _rows(spec: FormSpec, metadata: Metadata, form: etree._Element, where: str
          ) -> list[ReadRow]:
    """The FormData's ItemGroupData still standing (a Remove of a row drops it)."""
    groups = {group.oid: group for group in spec.groups}
    rows: list[ReadRow] = []
    for element in form.iterfind(q("ItemGroupData")):
        group = groups.get(str(element.get("ItemGroupOID", "")))
        if group is None:
            raise ImportRefused(f"{where}: no group {element.get('ItemGroupOID')} in this form")
        if element.get("TransactionType") == "Remove":
            continue
        known = {item.oid for item in group.items}
        values: dict[str, str | None] = {}
        for item in element.iterfind(q("ItemData")):
            oid = str(item.get("ItemOID", ""))
            if oid not in known:
                raise ImportRefused(f"{where}: no item {oid} in group {group.oid}")
            values[oid] = None if item.get("IsNull") == "Yes" else item.get("Value")
        rows.append((group, values))
    return rows


__all__ = ["ImportRefused", "ImportResult", "RuleViolation", "StoreNotEmpty", "import_odm"]
