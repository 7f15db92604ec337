"""ClinicalData of the ODM export: one SubjectData per participant, every event of their stream
one FormData in the casebook study event, in ledger order.

- An entry (clinical or record-keeping) is an Insert of its type's form; its FormRepeatKey
  is its event id.
- A correction is an Update of the form it corrects (same FormRepeatKey) with the corrected
  data whole: the main group's items upserted (a value now absent is IsNull), each nested
  row upserted, a row the correction no longer has removed, the clinical date upserted
  only when the correction moves it, and a row of IG.EntryCorrected (keyed by the
  correction's event id) recording `corrects`, its new date and the day it was made.
- A void is a Remove of the form it voids.
- Every FormData carries an AuditRecord (who, at which site, when recorded, why, and
  SourceID "event <id> position <n>") and an Annotation (SeqNum = ledger position) whose
  Flag names the role the event was recorded under; its Comment holds, as JSON, anything
  the event records that no item carries (a void's own date; a field no longer in the
  catalogue), so nothing is left out.
- A casebook signature's form also carries a Signature: the signer, the site, the
  SignatureDef of its meaning, the recorded time, and the chain hash it covers as
  CryptoBindingManifest.
Who, role, site, reason, recorded time and position come from the audit trail's own fold
of each stored event (projections.rows.audit_row), so the file and the audit trail agree.

An imported event (services/exports/odm_import.py) carries the audit record of the file it
came from as its `provenance`: its AuditRecord, role Flag and SeqNum are that original
record again (user, site, time, reason, SourceID), and a second Annotation names the import
(who imported it, under which role, when, from which file), so a file exported, imported and
exported again shows the same audit trail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from lxml import etree

from domain.participant import Participant
from infra.ledger.store import ChainRow
from projections.rows import audit_row
from services.application import TrialLedger
from services.exports.odm_admin import References
from services.exports.odm_metadata import STUDY_EVENT_OID, STUDY_OID
from services.exports.odm_model import FLAG_RECORDED_BY_ROLE, OCCURRED_ON, FormSpec, Metadata
from services.exports.odm_rows import Row, flatten, record_row
from services.exports.odm_xml import NSMAP, Element, q, root, sub, value_text

ORIGINAL_SOURCE = re.compile(r"event \S+ position (?P<position>\d+)")


@dataclass
class FormState:
    """A form inserted earlier in this casebook: its spec and its repeating rows' keys."""

    form: FormSpec
    keys: dict[str, set[str]]


class Casebook:
    """Writes one participant's SubjectData, keeping what a later correction needs to know
    of the forms before it."""

    def __init__(self, metadata: Metadata, participant: Participant, refs: References) -> None:
        self.metadata = metadata
        self.refs = refs
        self.site = participant.site_id
        self.forms: dict[str, FormState] = {}
        self.subject = root("SubjectData", SubjectKey=participant.id, TransactionType="Insert")
        sub(self.subject, "SiteRef", LocationOID=refs.location(participant.site_id))
        self.casebook = sub(self.subject, "StudyEventData", StudyEventOID=STUDY_EVENT_OID,
                            TransactionType="Insert")

    def add(self, event: Participant.Event, chain: ChainRow) -> None:
        """One event as one FormData."""
        row = audit_row(event, chain, None)
        provenance = getattr(event, "provenance", None)
        if isinstance(provenance, Mapping):
            row = as_originally_recorded(row, provenance)
        data: Mapping[str, Any] = getattr(event, "data", {}) or {}
        kind = row["type"]
        target = str(data.get("corrects") or data.get("voids") or "")
        if kind == "EntryCorrected" and target in self.forms:
            self._update(row, data, self.forms[target], target)
        elif kind == "EntryVoided" and target in self.forms:
            self._form_data(self.forms.pop(target).form, target, "Remove", row,
                            {"occurred_on": row["occurred_on"], "voids": target})
        elif kind in ("EntryCorrected", "EntryVoided"):  # no earlier entry of that id
            form_spec = self.metadata.form_of(kind)
            group = form_spec.groups[0]
            unmapped = {"data": data["data"]} if "data" in data else {}
            form = self._form_data(form_spec, row["event_id"], "Insert", row, unmapped)
            self._rows(form, [record_row(group, row["event_id"], row["occurred_on"], data)],
                       "Insert")
        else:
            self._insert(row, data)

    def _insert(self, row: dict[str, Any], data: Mapping[str, Any]) -> None:
        spec = self.metadata.form_of(row["type"])
        flat = flatten(spec, data, row["occurred_on"])
        form = self._form_data(spec, row["event_id"], "Insert", row, flat.unmapped,
                               signed=data if row["type"] == "CasebookSigned" else None)
        self._rows(form, flat.rows, "Insert")
        self.forms[row["event_id"]] = FormState(spec, flat.keys())

    def _update(self, row: dict[str, Any], data: Mapping[str, Any], state: FormState,
                target: str) -> None:
        corrected = data.get("data")
        unmapped: dict[str, Any] = {}
        if not isinstance(corrected, Mapping):
            unmapped["data"], corrected = corrected, {}
        flat = flatten(state.form, corrected, data.get("occurred_on"))
        form = self._form_data(state.form, target, "Update", row, {**unmapped, **flat.unmapped})
        main, *nested = flat.rows
        self._rows(form, [main], "Update", item_transaction="Upsert", keep=OCCURRED_ON)
        self._rows(form, nested, "Upsert", item_transaction="Upsert")
        now = flat.keys()
        for group_oid, keys in state.keys.items():
            for key in sorted(keys - now.get(group_oid, set())):
                sub(form, "ItemGroupData", ItemGroupOID=group_oid, ItemGroupRepeatKey=key,
                    TransactionType="Remove")
        record = record_row(self.metadata.correction_group, row["event_id"],
                            row["occurred_on"], data)
        self._rows(form, [record], "Insert")
        state.keys = now

    def _form_data(self, form: FormSpec, key: str, transaction: str, row: dict[str, Any],
                   unmapped: Mapping[str, Any], signed: Mapping[str, Any] | None = None
                   ) -> Element:
        element = sub(self.casebook, "FormData", FormOID=form.oid, FormRepeatKey=key,
                      TransactionType=transaction)
        site = row["site_id"] or self.site
        audit_record(element, row, self.refs, site)
        if signed is not None:
            signature = sub(element, "Signature")
            sub(signature, "UserRef", UserOID=self.refs.user(
                str(signed.get("signer") or row["recorded_by"])))
            sub(signature, "LocationRef", LocationOID=self.refs.location(site))
            sub(signature, "SignatureRef",
                SignatureOID=self.refs.meaning(str(signed.get("meaning", ""))))
            sub(signature, "DateTimeStamp", row["recorded_at"])
            sub(signature, "CryptoBindingManifest", str(signed.get("covers_hash", "")))
        annotation(element, row, unmapped)
        if "imported" in row:
            import_annotation(element, row["imported"], self.refs)
        return element

    @staticmethod
    def _rows(form: Element, rows: list[Row], transaction: str, *,
              item_transaction: str | None = None, keep: str | None = None) -> None:
        """ItemGroupData for each row. Insert: values only. Otherwise every item, an absent
        value as IsNull, except `keep` when it has no value (it stays as it was)."""
        for row in rows:
            group = sub(form, "ItemGroupData", ItemGroupOID=row.group.oid,
                        ItemGroupRepeatKey=row.key, TransactionType=transaction)
            for item, value in row.values:
                if value is None and (item_transaction is None or item.oid == keep):
                    continue
                sub(group, "ItemData", ItemOID=item.oid,
                    TransactionType=item_transaction or transaction,
                    **({"IsNull": "Yes"} if value is None else {"Value": value_text(value)}))


def audit_record(parent: Element, row: dict[str, Any], refs: References, site: str) -> None:
    """The AuditRecord of one event: who, at which site, when recorded, why, and which event
    at which ledger position."""
    audit = sub(parent, "AuditRecord")
    sub(audit, "UserRef", UserOID=refs.user(row["recorded_by"]))
    sub(audit, "LocationRef", LocationOID=refs.location(site))
    sub(audit, "DateTimeStamp", row["recorded_at"])
    if row["reason"] is not None:
        sub(audit, "ReasonForChange", row["reason"])
    sub(audit, "SourceID", row.get("source_id")
        or f"event {row['event_id']} position {row['position']}")


def as_originally_recorded(row: dict[str, Any], provenance: Mapping[str, Any]
                           ) -> dict[str, Any]:
    """An imported event's audit row as the file it came from recorded it (who, role, site,
    when, why, source id and position), the import's own row kept under `imported`."""
    source = str(provenance.get("source_id") or "")
    match = ORIGINAL_SOURCE.fullmatch(source)
    return {**row, "recorded_by": str(provenance.get("user") or row["recorded_by"]),
            "role": str(provenance.get("role") or row["role"]),
            "site_id": provenance.get("site") or row["site_id"],
            "recorded_at": str(provenance.get("recorded_at") or row["recorded_at"]),
            "reason": provenance.get("reason"), "source_id": source or None,
            "position": int(match["position"]) if match else row["position"],
            "imported": {**row, "provenance": dict(provenance)}}


def annotation(parent: Element, row: dict[str, Any], unmapped: Mapping[str, Any]) -> None:
    """The event's Annotation: the role it was recorded under, and (as JSON) whatever it
    records that no item carries."""
    note = sub(parent, "Annotation", SeqNum=str(row["position"]))
    if unmapped:
        sub(note, "Comment", json.dumps(dict(unmapped), sort_keys=True, ensure_ascii=False,
                                        default=str))
    flag = sub(note, "Flag")
    sub(flag, "FlagValue", str(row["role"]), CodeListOID="CL.role")
    sub(flag, "FlagType", FLAG_RECORDED_BY_ROLE, CodeListOID="CL.flag_type")


def import_annotation(parent: Element, row: dict[str, Any], refs: References) -> None:
    """The second Annotation of an imported event: who imported it (the event's actor, also
    declared in AdminData), under which role, when (the ledger's recorded time), at which
    ledger position, and from which file."""
    refs.user(row["recorded_by"])
    provenance = row["provenance"]
    note = sub(parent, "Annotation", SeqNum=str(row["position"]))
    sub(note, "Comment", json.dumps({
        "imported_by": row["recorded_by"], "imported_at": row["recorded_at"],
        "source": provenance.get("source"), "file_sha256": provenance.get("file_sha256"),
        "file_oid": provenance.get("file_oid")}, sort_keys=True, ensure_ascii=False,
        default=str))
    flag = sub(note, "Flag")
    sub(flag, "FlagValue", str(row["role"]), CodeListOID="CL.role")
    sub(flag, "FlagType", FLAG_RECORDED_BY_ROLE, CodeListOID="CL.flag_type")


def write_clinical_data(ledger: TrialLedger, sink: IO[bytes], *, subjects: list[str],
                        as_of: str | None, metadata: Metadata, refs: References,
                        progress: Callable[[int, int], None] | None = None) -> None:
    """<ClinicalData> to `sink`, one participant at a time: each SubjectData is built, written
    and flushed before the next participant is read, so only one is ever held."""
    with etree.xmlfile(sink, encoding="utf-8") as xf, xf.element(
            q("ClinicalData"), nsmap=NSMAP, StudyOID=STUDY_OID, MetaDataVersionOID=metadata.oid):
        if progress is not None:
            progress(0, len(subjects))
        for done, participant_id in enumerate(subjects, start=1):
            participant = ledger.participant(participant_id, as_of=as_of)
            casebook = Casebook(metadata, participant, refs)
            for event, chain in ledger.events_of(participant):
                casebook.add(event, chain)
            xf.write(casebook.subject)
            xf.flush()
            del casebook
            if progress is not None:
                progress(done, len(subjects))
