"""Reading an ODM export back, independently of the writer: its transactions per participant,
and their replay into the forms as they stand, to compare with the ledger's own reads."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from services.application import TrialLedger
from services.exports.odm import validate_odm, write_odm
from services.exports.scope import ExportScope

NS = {"o": "http://www.cdisc.org/ns/odm/v1.3"}
Rows = dict[str, dict[str | None, dict[str, str | None]]]
"""A form's state: group OID -> repeat key (None: not repeating) -> item OID -> value."""


def export(ledger: TrialLedger, **scope: Any) -> bytes:
    """The export of `scope` (created now unless given), checked against the official XSD."""
    scope.setdefault("created_at", datetime.now(UTC))
    out = io.BytesIO()
    write_odm(ledger, out, scope=ExportScope(**scope))
    document = out.getvalue()
    assert validate_odm(document) == []
    return document


def parse(document: bytes) -> etree._Element:
    root: etree._Element = etree.fromstring(document)
    return root


def one(element: etree._Element, path: str) -> etree._Element:
    found = element.find(path, NS)
    assert found is not None, path
    return found


def subjects(root: etree._Element) -> dict[str, etree._Element]:
    return {s.get("SubjectKey"): s for s in root.iterfind("o:ClinicalData/o:SubjectData", NS)}


@dataclass(frozen=True)
class Transaction:
    """One FormData as read back."""

    form: str
    key: str
    transaction: str
    source: str
    user: str
    location: str
    stamp: str
    reason: str | None
    role: str


def transactions(subject: etree._Element) -> list[Transaction]:
    found = []
    for form in subject.iterfind("o:StudyEventData/o:FormData", NS):
        audit = one(form, "o:AuditRecord")
        reason = audit.find("o:ReasonForChange", NS)
        found.append(Transaction(
            form.get("FormOID", ""), form.get("FormRepeatKey", ""),
            form.get("TransactionType", ""), one(audit, "o:SourceID").text or "",
            one(audit, "o:UserRef").get("UserOID", ""),
            one(audit, "o:LocationRef").get("LocationOID", ""),
            one(audit, "o:DateTimeStamp").text or "",
            None if reason is None else (reason.text or ""),
            one(form, "o:Annotation/o:Flag/o:FlagValue").text or ""))
    return found


def replay(subject: etree._Element) -> dict[str, Rows]:
    """The forms as they stand after applying every transaction in order (key: the form's
    repeat key): what an ODM consumer rebuilds from the file."""
    forms: dict[str, Rows] = {}
    for form in subject.iterfind("o:StudyEventData/o:FormData", NS):
        key = form.get("FormRepeatKey", "")
        if form.get("TransactionType") == "Remove":
            forms.pop(key)
            continue
        rows = forms.setdefault(key, {})
        for group in form.iterfind("o:ItemGroupData", NS):
            by_key = rows.setdefault(group.get("ItemGroupOID", ""), {})
            repeat = group.get("ItemGroupRepeatKey")
            if group.get("TransactionType") == "Remove":
                by_key.pop(repeat)
                continue
            row = by_key.setdefault(repeat, {})
            for item in group.iterfind("o:ItemData", NS):
                row[item.get("ItemOID", "")] = (None if item.get("IsNull") == "Yes"
                                                else item.get("Value"))
    return forms


def as_written(text: str | None) -> str | None:
    """Text as XML 1.0 can carry it: each code point it cannot (a C0 control other than tab,
    newline and carriage return, a surrogate, U+FFFE, U+FFFF) read back as U+FFFD."""
    if text is None:
        return None
    return "".join("\ufffd" if (ord(c) < 0x20 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF
                   or ord(c) in (0xFFFE, 0xFFFF) else c for c in text)


def typed(text: str | None, value: Any) -> Any:
    """An ItemData Value read as the type of the ledger's `value`."""
    if text is None:
        return None
    if isinstance(value, bool):
        return {"true": True, "false": False}[text]
    if isinstance(value, int):
        return int(text)
    if isinstance(value, float):
        return float(text)
    return text


def assert_matches_ledger(ledger: TrialLedger, root: etree._Element, as_of: str | None,
                          expected_ids: list[str]) -> None:
    """Each participant's FormData, in order, are the ledger's events (ids, positions,
    users, sites, reasons, recorded times, roles), and replaying them gives the casebook."""
    found = subjects(root)
    assert list(found) == expected_ids
    for participant_id, subject in found.items():
        participant = ledger.participant(participant_id, as_of=as_of)
        events = ledger.participant_events(participant_id, as_of=as_of)
        assert one(subject, "o:SiteRef").get("LocationOID") == f"LOC.{participant.site_id}"
        read = transactions(subject)
        assert len(read) == len(events)
        for tx, (event, chain) in zip(read, events, strict=True):
            kind = type(event).__name__
            assert tx.source == f"event {event.event_id} position {chain.position}"
            assert (tx.user, tx.location) == (f"USR.{event.actor}", f"LOC.{event.site_id}")
            assert (tx.stamp, tx.reason, tx.role) == (chain.recorded_at,
                                                      as_written(event.reason), event.role)
            if kind == "EntryCorrected":
                target = participant.entries[event.data["corrects"]]
                assert (tx.form, tx.key, tx.transaction) == (
                    f"F.{target.type}", target.event_id, "Update")
            elif kind == "EntryVoided":
                target = participant.entries[event.data["voids"]]
                assert (tx.form, tx.key, tx.transaction) == (
                    f"F.{target.type}", target.event_id, "Remove")
            else:
                assert (tx.form, tx.key, tx.transaction) == (f"F.{kind}", event.event_id,
                                                             "Insert")
        assert_casebook(participant, replay(subject))


def assert_casebook(participant: Any, forms: dict[str, Rows]) -> None:
    """The replayed forms are the participant's entries as they now stand: voided ones gone,
    corrected ones with their corrected data and date, every single value and every row."""
    standing = [e for e in participant.entries.values()
                if e.voided_by is None and e.type not in ("EntryCorrected", "EntryVoided")]
    assert sorted(forms) == sorted(e.event_id for e in standing)
    for entry in standing:
        rows = forms[entry.event_id]
        main = rows[f"IG.{entry.type}"][None]
        assert main["IT.occurred_on"] == entry.occurred_on.isoformat()
        for name, value in entry.data.items():
            oid = f"IT.{entry.type}.{name}"
            if isinstance(value, list) and all(not isinstance(v, dict) for v in value):
                group = rows.get(f"IG.{entry.type}.{name}", {})
                assert sorted(r[oid] or "" for r in group.values()) == sorted(value)
            elif not isinstance(value, dict | list):
                assert typed(main.get(oid), value) == value, (entry.type, name)
        if entry.type == "TumorAssessed":
            assert_lesions(entry.data["reads"], rows)


def assert_lesions(reads: dict[str, Any], rows: Rows) -> None:
    for kind in ("targets", "non_targets", "new_lesions"):
        group = rows.get(f"IG.TumorAssessed.reads.{kind}", {})
        prefix = f"IT.TumorAssessed.reads.{kind}."
        read_back = {(r["IT.TumorAssessed.reads.criterion"], r[prefix + "lesion_id"]):
                     {k.removeprefix(prefix): v for k, v in r.items() if k.startswith(prefix)}
                     for r in group.values()}
        expected = {(criterion, lesion["lesion_id"]): lesion
                    for criterion, read in reads.items() for lesion in read.get(kind, [])}
        assert set(read_back) == set(expected)
        for key, lesion in expected.items():
            for name, value in lesion.items():
                assert typed(read_back[key].get(name), value) == value, (key, name)
