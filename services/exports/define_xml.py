"""Define-XML 2.1 (on ODM 1.3.2): the metadata of the XPT datasets an export wrote.

Made from the `WrittenXpt` results themselves (services/exports/xpt.py): one ItemGroupDef per
dataset with its structure, class, keys and a def:leaf to the file; one ItemDef per variable
with its DataType, the Length the file holds, its def:Origin and its codelist; one CodeList
per controlled value set; one MethodDef per derived variable. What the file holds and what the
define says of it therefore come from one set of definitions. The XML is built with lxml, so
every text is escaped as XML needs, whatever the ledger stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from lxml import etree

from services.exports.xpt import CodeList, Column, WrittenXpt

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}
DEFINE_VERSION = "2.1.0"
ISO_8601_KINDS = frozenset({"date", "partialDate"})
"""Define-XML gives no Length for ISO 8601 date variables."""


@dataclass(frozen=True)
class Standard:
    """The implementation guide the datasets follow (def:Standard)."""

    name: str
    version: str
    oid: str

    @classmethod
    def of(cls, name: str, version: str) -> Standard:
        return cls(name, version, f"STD.{name}.{version}".replace(" ", "_"))


@dataclass(frozen=True)
class StudyDescription:
    """GlobalVariables of the define: the study's name, description and protocol."""

    oid: str
    name: str
    description: str
    protocol: str


@dataclass(frozen=True)
class DatasetDefinition:
    """A written dataset and what the define says of it beyond its variables."""

    written: WrittenXpt
    class_name: str
    """def:Class, e.g. EVENTS, FINDINGS, INTERVENTIONS, SPECIAL PURPOSE, RELATIONSHIP."""
    structure: str
    keys: tuple[str, ...]
    domain: str | None = None
    """The SDTM domain abbreviation (ItemGroupDef/@Domain); None for an analysis dataset."""
    repeating: bool = True
    """False for a dataset of one record per subject (DM, ADSL)."""


def define_document(datasets: Sequence[DatasetDefinition], *, study: StudyDescription,
                    standard: Standard, created_at: datetime, as_of: datetime | None = None,
                    purpose: Literal["Tabulation", "Analysis"] = "Tabulation") -> bytes:
    """The define.xml bytes (UTF-8) for `datasets`."""
    odm = etree.Element(f"{{{ODM_NS}}}ODM", nsmap=NSMAP)
    odm.set("FileType", "Snapshot")
    odm.set("FileOID", f"{study.oid}.DEFINE.{_stamp(created_at)}")
    odm.set("ODMVersion", "1.3.2")
    odm.set("CreationDateTime", _stamp(created_at))
    if as_of is not None:
        odm.set("AsOfDateTime", _stamp(as_of))
    odm.set("Originator", "trial-ledger")
    odm.set("SourceSystem", "trial-ledger")
    odm.set(f"{{{DEF_NS}}}Context", "Other")
    study_element = _sub(odm, "Study", OID=study.oid)
    globals_ = _sub(study_element, "GlobalVariables")
    _sub(globals_, "StudyName").text = study.name
    _sub(globals_, "StudyDescription").text = study.description
    _sub(globals_, "ProtocolName").text = study.protocol
    version = _sub(study_element, "MetaDataVersion", OID=f"MDV.{study.oid}.{purpose.upper()}",
                   Name=f"{study.name} {purpose} metadata")
    version.set(f"{{{DEF_NS}}}DefineVersion", DEFINE_VERSION)
    standards = etree.SubElement(version, f"{{{DEF_NS}}}Standards")
    etree.SubElement(standards, f"{{{DEF_NS}}}Standard", OID=standard.oid, Name=standard.name,
                     Type="IG", Version=standard.version, Status="Final")
    for dataset in datasets:
        _item_group(version, dataset, standard, purpose)
    for dataset in datasets:
        for column in dataset.written.columns:
            _item_def(version, dataset.written, column)
    for codelist in _codelists(datasets):
        _codelist(version, codelist)
    for dataset in datasets:
        for column in dataset.written.columns:
            if column.method is not None:
                method = _sub(version, "MethodDef", OID=_method_oid(dataset.written, column),
                              Name=f"Derivation of {dataset.written.name}.{column.name}",
                              Type="Computation")
                _description(method, column.method)
    return bytes(etree.tostring(odm, xml_declaration=True, encoding="UTF-8",
                                pretty_print=True))


def write_define(path: Path, datasets: Sequence[DatasetDefinition], *,
                 study: StudyDescription, standard: Standard, created_at: datetime,
                 as_of: datetime | None = None,
                 purpose: Literal["Tabulation", "Analysis"] = "Tabulation") -> Path:
    """Write `define_document(...)` to `path`."""
    path.write_bytes(define_document(datasets, study=study, standard=standard,
                                     created_at=created_at, as_of=as_of, purpose=purpose))
    return path


def _item_group(parent: etree._Element, dataset: DatasetDefinition, standard: Standard,
                purpose: str) -> None:
    written = dataset.written
    group = _sub(parent, "ItemGroupDef", OID=f"IG.{written.name}", Name=written.name,
                 Repeating="Yes" if dataset.repeating else "No", IsReferenceData="No",
                 SASDatasetName=written.name)
    if dataset.domain is not None:
        group.set("Domain", dataset.domain)
    group.set("Purpose", purpose)
    group.set(f"{{{DEF_NS}}}Structure", dataset.structure)
    group.set(f"{{{DEF_NS}}}StandardOID", standard.oid)
    group.set(f"{{{DEF_NS}}}ArchiveLocationID", f"LF.{written.name}")
    _description(group, written.label)
    for order, column in enumerate(written.columns, start=1):
        ref = _sub(group, "ItemRef", ItemOID=_item_oid(written, column), OrderNumber=str(order),
                   Mandatory="Yes" if column.mandatory else "No")
        if column.name in dataset.keys:
            ref.set("KeySequence", str(dataset.keys.index(column.name) + 1))
        if column.method is not None:
            ref.set("MethodOID", _method_oid(written, column))
    etree.SubElement(group, f"{{{DEF_NS}}}Class", Name=dataset.class_name)
    leaf = etree.SubElement(group, f"{{{DEF_NS}}}leaf", ID=f"LF.{written.name}")
    leaf.set(f"{{{XLINK_NS}}}href", written.path.name)
    etree.SubElement(leaf, f"{{{DEF_NS}}}title").text = written.path.name


def _item_def(parent: etree._Element, written: WrittenXpt, column: Column) -> None:
    item = _sub(parent, "ItemDef", OID=_item_oid(written, column), Name=column.name,
                SASFieldName=column.name, DataType=column.data_type)
    if column.kind not in ISO_8601_KINDS:
        item.set("Length", str(written.lengths[column.name]))
    if column.kind == "float":
        item.set("SignificantDigits", str(written.decimals.get(column.name, 0)))
    _description(item, column.label)
    if column.codelist is not None:
        _sub(item, "CodeListRef", CodeListOID=column.codelist.oid)
    origin = etree.SubElement(item, f"{{{DEF_NS}}}Origin", Type=column.origin)
    if column.origin == "Collected":
        origin.set("Source", "Investigator")
    elif column.origin in ("Assigned", "Derived", "Protocol"):
        origin.set("Source", "Sponsor")


def _codelists(datasets: Sequence[DatasetDefinition]) -> list[CodeList]:
    found: dict[str, CodeList] = {}
    for dataset in datasets:
        for column in dataset.written.columns:
            codelist = column.codelist
            if codelist is not None and found.setdefault(codelist.oid, codelist) != codelist:
                raise ValueError(f"two codelists share the OID {codelist.oid}")
    return list(found.values())


def _codelist(parent: etree._Element, codelist: CodeList) -> None:
    element = _sub(parent, "CodeList", OID=codelist.oid, Name=codelist.name, DataType="text")
    if codelist.dictionary is not None:
        _sub(element, "ExternalCodeList", Dictionary=codelist.dictionary,
             Version=codelist.version or "")
        return
    decoded = any(decode is not None for _, decode in codelist.items)
    for order, (code, decode) in enumerate(codelist.items, start=1):
        if decoded:
            item = _sub(element, "CodeListItem", CodedValue=code, OrderNumber=str(order))
            _text(_sub(item, "Decode"), decode or code)
        else:
            _sub(element, "EnumeratedItem", CodedValue=code, OrderNumber=str(order))


def _item_oid(written: WrittenXpt, column: Column) -> str:
    return f"IT.{written.name}.{column.name}"


def _method_oid(written: WrittenXpt, column: Column) -> str:
    return f"MT.{written.name}.{column.name}"


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ODM_NS}}}{tag}", attributes)


def _description(parent: etree._Element, text: str) -> None:
    _text(_sub(parent, "Description"), text)


def _text(parent: etree._Element, text: str) -> None:
    translated = _sub(parent, "TranslatedText")
    translated.set(XML_LANG, "en")
    translated.text = text


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
