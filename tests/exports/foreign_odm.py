"""A Rave-style ODM 1.3.2 audit export of a ledger's clinical data, written here without the
ledger's exporter: what another EDC holding the same trial would hand over for a migration.

Its shape is the other system's, not the ledger's: its own form, group and item OIDs and codes
(docs/exports/odm-mapping-rave.json read backwards), enrolment dates as `01 JAN 2026` text,
the site only in SiteRef, an AuditRecord on every changed value with numeric SourceIDs, and
one ClinicalData per change in time order across participants (as Rave's audit export lists
them). A correction writes only the values it changed (an Update), the rows it added (an
Insert) and the rows it removed (ItemGroupData Remove); a void removes the FormData.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from services.application import TrialLedger

ODM = "http://www.cdisc.org/ns/odm/v1.3"
MDSOL = "http://www.mdsol.com/ns/odm/metadata"
MAPPING = Path(__file__).resolve().parents[2] / "docs" / "exports" / "odm-mapping-rave.json"
Rows = dict[tuple[str, str], dict[str, str | None]]


def load() -> dict[str, Any]:
    mapping: dict[str, Any] = json.loads(MAPPING.read_text())
    return mapping


@dataclass
class Instance:
    visit: tuple[str, str]
    form: str
    rows: Rows = field(default_factory=dict)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)


class RaveWriter:
    """Turns the ledger's events into the other system's changes."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.mapping = mapping
        self.forms = {spec["event_type"]: (oid, spec) for oid, spec in mapping["forms"].items()}
        self.sites = {ours: theirs for theirs, ours in mapping["sites"].items()}
        self.instances: dict[str, Instance] = {}
        self.source_id = 1000
        self.visits = 0
        self.target_type: dict[str, str] = {}
        self.dates: dict[str, str] = {}

    def text(self, spec: dict[str, Any], value: Any) -> str | None:
        """A value as the other system writes it: its code, its date format."""
        if value is None:
            return None
        ours = ("true" if value else "false") if isinstance(value, bool) else (
            repr(float(value)) if isinstance(value, float) else str(value))
        theirs: str = {v: k for k, v in spec.get("codes", {}).items()}.get(ours, ours)
        if spec.get("date_format"):
            return date.fromisoformat(theirs).strftime(spec["date_format"]).upper()
        return theirs

    def rows(self, event_type: str, occurred_on: str, data: dict[str, Any]) -> Rows:
        """The event's data in the other system's item groups, each row keyed by what names it
        (the criterion and lesion id, the related treatment)."""
        _, form = self.forms[event_type]
        out: Rows = {}
        for group_oid, group in form["groups"].items():
            items = {spec["field"]: (oid, spec) for oid, spec in group["items"].items()}
            if not group["rows"]:
                values = {**data, "occurred_on": occurred_on}
                out[(group_oid, "main")] = {oid: self.text(spec, values.get(name))
                                            for name, (oid, spec) in items.items()
                                            if name != "site_id"}
                continue
            for key, node in self.nodes(group["rows"], data):
                out[(group_oid, key)] = {oid: self.text(spec, node.get(name.split(".")[-1]))
                                         if not name.endswith("criterion") else
                                         self.text(spec, node["criterion"])
                                         for name, (oid, spec) in items.items()}
        return out

    @staticmethod
    def nodes(path: str, data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        if path == "related_to":
            for drug in data.get("related_to") or []:
                yield drug, {"related_to": drug}
            return
        kind = path.split(".")[1]
        for criterion, read in (data.get("reads") or {}).items():
            for lesion in read.get(kind) or []:
                yield f"{criterion}/{lesion['lesion_id']}", {**lesion, "criterion": criterion}

    def changes(self, ledger: TrialLedger
                ) -> list[tuple[str, str, str | None, etree._Element]]:
        """(recorded time, participant, site, SubjectData) of every change, participant by
        participant (sorted by the caller)."""
        found = []
        for pid, _ in ledger.participant_ids():
            for event, chain in ledger.participant_events(pid):
                for subject in self.event(pid, event, chain.recorded_at):
                    found.append((chain.recorded_at, pid, event.site_id, subject))
        return found

    def event(self, pid: str, event: Any, stamp: str) -> list[etree._Element]:
        kind = type(event).__name__
        audit = {"user": event.actor, "site": self.sites.get(event.site_id, event.site_id),
                 "stamp": stamp, "reason": event.reason}
        if kind == "EntryVoided":
            instance = self.instances.pop(event.data["voids"])
            subject, form = self.form(pid, audit["site"], instance)
            form.set("TransactionType", "Remove")
            self.audit(form, audit)
            return [subject]
        if kind == "EntryCorrected":
            instance = self.instances[event.data["corrects"]]
            target = self.target_type[event.data["corrects"]]
            on = event.data["occurred_on"] or self.dates[event.data["corrects"]]
            self.dates[event.data["corrects"]] = on
            new = self.rows(target, on, event.data["data"])
            return self.diff(pid, instance, new, audit)
        if kind not in self.forms:
            return []  # record-keeping: not CRF data in the other system
        self.visits += 1
        visit = ("SCREEN", "1") if kind == "ParticipantEnrolled" else ("VISIT", str(self.visits))
        instance = Instance(visit, self.forms[kind][0])
        self.instances[event.event_id] = instance
        self.target_type[event.event_id] = kind
        on = event.occurred_on.isoformat() if isinstance(event.occurred_on, date) \
            else str(event.occurred_on)
        self.dates[event.event_id] = on
        return self.diff(pid, instance, self.rows(kind, on, event.data), audit)

    def diff(self, pid: str, instance: Instance, new: Rows, audit: dict[str, Any]
             ) -> list[etree._Element]:
        out = []
        for key in [k for k in instance.rows if k not in new]:
            subject, form = self.form(pid, audit["site"], instance)
            group = self.group(form, instance, key)
            group.set("TransactionType", "Remove")
            self.audit(group, audit)
            del instance.rows[key]
            out.append(subject)
        for key, values in new.items():
            before = instance.rows.get(key)
            for oid, value in values.items():
                if before is not None and before.get(oid) == value:
                    continue
                if before is None and value is None:
                    continue
                subject, form = self.form(pid, audit["site"], instance)
                group = self.group(form, instance, key)
                item = etree.SubElement(group, f"{{{ODM}}}ItemData", ItemOID=oid,
                                        TransactionType="Insert" if before is None
                                        else "Update")
                if value is None:
                    item.set("IsNull", "Yes")
                else:
                    item.set("Value", value)
                item.set(f"{{{MDSOL}}}Verify", "No")
                self.audit(item, audit)
                out.append(subject)
            instance.rows[key] = dict(values)
        return out

    def form(self, pid: str, site: str, instance: Instance
             ) -> tuple[etree._Element, etree._Element]:
        subject = etree.Element(f"{{{ODM}}}SubjectData", SubjectKey=pid,
                                TransactionType="Upsert")
        etree.SubElement(subject, f"{{{ODM}}}SiteRef", LocationOID=site)
        visit = etree.SubElement(subject, f"{{{ODM}}}StudyEventData",
                                 StudyEventOID=instance.visit[0],
                                 StudyEventRepeatKey=instance.visit[1])
        form = etree.SubElement(visit, f"{{{ODM}}}FormData", FormOID=instance.form,
                                FormRepeatKey="1")
        return subject, form

    def group(self, form: etree._Element, instance: Instance, key: tuple[str, str]
              ) -> etree._Element:
        number = instance.keys.setdefault(key, str(len(instance.keys) + 1))
        return etree.SubElement(form, f"{{{ODM}}}ItemGroupData", ItemGroupOID=key[0],
                                ItemGroupRepeatKey=number)

    def audit(self, parent: etree._Element, audit: dict[str, Any]) -> None:
        self.source_id += 1
        record = etree.SubElement(parent, f"{{{ODM}}}AuditRecord")
        etree.SubElement(record, f"{{{ODM}}}UserRef", UserOID=audit["user"])
        etree.SubElement(record, f"{{{ODM}}}LocationRef", LocationOID=audit["site"])
        etree.SubElement(record, f"{{{ODM}}}DateTimeStamp").text = audit["stamp"]
        if audit["reason"]:
            etree.SubElement(record, f"{{{ODM}}}ReasonForChange").text = audit["reason"]
        etree.SubElement(record, f"{{{ODM}}}SourceID").text = str(self.source_id)


def rave_export(ledger: TrialLedger, mapping: dict[str, Any] | None = None) -> bytes:
    """The other system's audit export of every participant's clinical data."""
    writer = RaveWriter(mapping or load())
    root = etree.Element(f"{{{ODM}}}ODM", nsmap={None: ODM, "mdsol": MDSOL},
                         FileType="Transactional", FileOID="RAVE-AUDIT-0001",
                         ODMVersion="1.3.2", Originator="Rave EDC",
                         CreationDateTime=datetime.now(UTC).isoformat(timespec="seconds"))
    study = etree.SubElement(root, f"{{{ODM}}}Study", OID="TACE-CAM-APA(Prod)")
    variables = etree.SubElement(study, f"{{{ODM}}}GlobalVariables")
    etree.SubElement(variables, f"{{{ODM}}}StudyName").text = "TACE-CAM-APA"
    etree.SubElement(variables, f"{{{ODM}}}StudyDescription").text = "Rave audit export"
    etree.SubElement(variables, f"{{{ODM}}}ProtocolName").text = "TACE-CAM-APA"
    for _, _, _, subject in sorted(writer.changes(ledger), key=lambda c: c[0]):
        clinical = etree.SubElement(root, f"{{{ODM}}}ClinicalData",
                                    StudyOID="TACE-CAM-APA(Prod)", MetaDataVersionOID="1")
        clinical.append(subject)
    document: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return document
