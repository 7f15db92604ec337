"""define.xml of an SDTM export: valid against the Define-XML 2.1 schema odmlib ships, and it
describes exactly the XPT files written, variable by variable, as the files hold them."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path

import pyreadstat
import pytest
from lxml import etree

from services.application import TrialLedger
from services.exports.scope import ExportScope
from services.exports.sdtm import write_sdtm

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "xlink": "http://www.w3.org/1999/xlink"}
HREF = "{http://www.w3.org/1999/xlink}href"
CUTOFF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    """The Define-XML 2.1 schema; its imports (ODM 1.3.2 foundation, xlink, xml) are files
    beside it in the package, resolved relative to it."""
    path = files("odmlib").joinpath("schemas/define/2.1/define2-1-0.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def test_define_is_valid_and_describes_every_file_as_written(
        seeded: TrialLedger, tmp_path: Path, schema: etree.XMLSchema) -> None:
    paths = write_sdtm(seeded, tmp_path, scope=ExportScope(created_at=datetime.now(UTC),
                                                           cutoff=CUTOFF))
    define = etree.parse(str(tmp_path / "define.xml"))
    assert schema.validate(define), schema.error_log
    assert paths[-1] == tmp_path / "define.xml"
    groups = define.findall(".//odm:ItemGroupDef", NS)
    leaves = {g.find("def:leaf", NS).get(HREF) for g in groups}
    written = {p.name for p in paths if p.suffix == ".xpt"}
    assert leaves == written == {p.name for p in tmp_path.glob("*.xpt")}
    assert {"dm.xpt", "ex.xpt", "pr.xpt", "ae.xpt", "tu.xpt", "tr.xpt", "rs.xpt", "ds.xpt",
            "ss.xpt", "suppae.xpt"} <= written
    items = {i.get("OID"): i for i in define.findall(".//odm:ItemDef", NS)}
    codelists = {c.get("OID"): c for c in define.findall(".//odm:CodeList", NS)}
    methods = {m.get("OID") for m in define.findall(".//odm:MethodDef", NS)}
    referenced = set()
    for group in groups:
        name = group.get("Name")
        assert group.get("Purpose") == "Tabulation" and group.get(f"{{{NS['def']}}}Structure")
        assert group.get("Repeating") == ("No" if name == "DM" else "Yes")
        frame, meta = pyreadstat.read_xport(str(tmp_path / f"{name.lower()}.xpt"))
        assert meta.table_name == name
        assert meta.file_label == _text(group)
        refs = group.findall("odm:ItemRef", NS)
        defined = [items[ref.get("ItemOID")] for ref in refs]
        assert [item.get("Name") for item in defined] == list(frame.columns), name
        referenced |= {ref.get("ItemOID") for ref in refs}
        keys = sorted((int(r.get("KeySequence")), items[r.get("ItemOID")].get("Name"))
                      for r in refs if r.get("KeySequence"))
        assert not frame.duplicated([key for _, key in keys]).any(), name
        for ref, item in zip(refs, defined, strict=True):
            column = item.get("Name")
            assert _text(item) == meta.column_names_to_labels[column]
            numeric = meta.readstat_variable_types[column] == "double"
            assert (item.get("DataType") in ("integer", "float")) == numeric, column
            if item.get("DataType") == "text":
                assert int(item.get("Length")) == meta.variable_storage_width[column], column
            if item.get("DataType") in ("date", "partialDate"):
                assert item.get("Length") is None
                assert frame[column].str.fullmatch(r"(\d{4}(-\d{2}-\d{2})?)?").all(), column
            origin = item.find("def:Origin", NS).get("Type")
            assert (ref.get("MethodOID") is not None) == (origin == "Derived"), column
            assert ref.get("MethodOID") is None or ref.get("MethodOID") in methods
            if ref.get("Mandatory") == "Yes":
                assert (frame[column].astype(str) != "").all(), column
            codelist_ref = item.find("odm:CodeListRef", NS)
            if codelist_ref is not None:
                codelist = codelists[codelist_ref.get("CodeListOID")]
                allowed = {e.get("CodedValue") for e in codelist
                           if e.tag.endswith(("CodeListItem", "EnumeratedItem"))}
                values = set(frame[column][frame[column] != ""])
                if codelist.find("odm:ExternalCodeList", NS) is None:
                    assert values <= allowed, (name, column, values - allowed)
    assert referenced == set(items), "an ItemDef no dataset uses"


def test_the_schema_refuses_what_define_xml_needs(seeded: TrialLedger, tmp_path: Path,
                                                  schema: etree.XMLSchema) -> None:
    """The validation bites: the same define without a required Define-XML attribute fails."""
    write_sdtm(seeded, tmp_path, scope=ExportScope(created_at=datetime.now(UTC),
                                                   cutoff=CUTOFF, participant_id="HCC-01-001"))
    define = etree.parse(str(tmp_path / "define.xml"))
    assert schema.validate(define), schema.error_log
    broken = copy.deepcopy(define)
    del broken.find(".//odm:ItemGroupDef", NS).attrib[f"{{{NS['def']}}}Structure"]
    assert not schema.validate(broken)
    unknown = copy.deepcopy(define)
    unknown.find(".//def:Origin", NS).set("Type", "Guessed")
    assert not schema.validate(unknown)


def test_no_cutoff_is_refused_and_an_empty_scope_writes_only_a_valid_define(
        ledger: TrialLedger, tmp_path: Path, schema: etree.XMLSchema) -> None:
    with pytest.raises(ValueError, match="cutoff"):
        write_sdtm(ledger, tmp_path, scope=ExportScope(created_at=datetime.now(UTC)))
    paths = write_sdtm(ledger, tmp_path, scope=ExportScope(created_at=datetime.now(UTC),
                                                           cutoff=CUTOFF))
    assert paths == [tmp_path / "define.xml"]
    define = etree.parse(str(paths[0]))
    assert schema.validate(define), schema.error_log
    assert define.findall(".//odm:ItemGroupDef", NS) == []


def _text(element: etree._Element) -> str:
    return str(element.find("odm:Description/odm:TranslatedText", NS).text)
