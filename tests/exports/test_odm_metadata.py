"""The ODM metadata cannot drift from the event catalogue: walking each payload's JSON Schema
(pydantic's own account of it, not the exporter's), every field has an ItemDef of the right
DataType, every enumeration a CodeList with exactly its values, every number a unit and its
bounds as range checks, and every event type the ledger records a form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree

from domain.events import CATALOGUE
from domain.ledger_event import LedgerEvent
from domain.participant import Participant
from domain.study import Study
from services.exports.odm import odm_schema
from services.exports.odm_metadata import study_element
from services.exports.odm_model import study_metadata
from services.exports.odm_xml import root
from tests.exports.odm_support import NS, one

JSON_TYPES = {"string": "text", "integer": "integer", "number": "float", "boolean": "boolean"}
UNITS = {"_ng_ml": "ng/mL", "_mg": "mg", "_ml": "mL", "_mm": "mm"}


def _study() -> etree._Element:
    return study_element(study_metadata())


def _leaves(node: dict[str, Any], path: str, defs: dict[str, Any]
            ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, schema) of every single value under `node`; a dict's key as
    `<path>.<key>` with its propertyNames schema."""
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:
        (node,) = [member for member in node["anyOf"] if member.get("type") != "null"]
        yield from _leaves(node, path, defs)
        return
    if node.get("type") == "array":
        yield from _leaves(node["items"], path, defs)
    elif node.get("type") == "object" and "properties" in node:
        for name, child in node["properties"].items():
            yield from _leaves(child, f"{path}.{name}".lstrip("."), defs)
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        yield f"{path}.<key>", node["propertyNames"]
        yield from _leaves(node["additionalProperties"], path, defs)
    else:
        yield path, node


def _catalogue_leaves() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for event_type, spec in CATALOGUE.items():
        schema = spec.payload.model_json_schema()
        for path, node in _leaves(schema, "", schema.get("$defs", {})):
            yield event_type, path, node


def _oid_of(event_type: str, path: str) -> str:
    if path.endswith(".<key>"):
        (oid,) = study_metadata().field_items[(event_type, path)]
        return oid
    return f"IT.{event_type}.{path}"


@pytest.mark.parametrize(("event_type", "path", "node"), list(_catalogue_leaves()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_catalogue_field_has_its_item(event_type: str, path: str,
                                            node: dict[str, Any]) -> None:
    mdv = one(_study(), "o:MetaDataVersion")
    if node.get("additionalProperties") is True:  # a correction's data: the corrected form's
        carried = study_metadata().field_items[(event_type, path)]
        clinical = {i.get("OID") for i in mdv.iterfind("o:ItemDef", NS)
                    if i.get("OID", "").split(".")[1] in {
                        t for t, s in CATALOGUE.items() if s.clinical}}
        assert set(carried) == clinical
        return
    item = one(mdv, f"o:ItemDef[@OID='{_oid_of(event_type, path)}']")
    if "enum" in node or "const" in node:
        values = node.get("enum", [node.get("const")])
        codelist = one(mdv, "o:CodeList[@OID='{}']".format(
            one(item, "o:CodeListRef").get("CodeListOID")))
        coded = [e.get("CodedValue") for e in codelist.iterfind("o:EnumeratedItem", NS)]
        assert coded == [str(v).lower() if isinstance(v, bool) else v for v in values]
        return
    expected = "date" if node.get("format") == "date" else JSON_TYPES[node["type"]]
    assert item.get("DataType") == expected
    if "maxLength" in node:
        assert item.get("Length") == str(node["maxLength"])
    checks = {(c.get("Comparator"), float(one(c, "o:CheckValue").text or ""))
              for c in item.iterfind("o:RangeCheck", NS)}
    bounds = {("GE", node.get("minimum")), ("GT", node.get("exclusiveMinimum")),
              ("LE", node.get("maximum")), ("LT", node.get("exclusiveMaximum"))}
    assert checks == {(c, float(v)) for c, v in bounds if v is not None}
    if node["type"] == "number":
        unit = next(u for suffix, u in UNITS.items() if path.endswith(suffix))
        ref = one(item, "o:MeasurementUnitRef").get("MeasurementUnitOID")
        symbol = one(_study(), f"o:BasicDefinitions/o:MeasurementUnit[@OID='{ref}']")
        assert one(symbol, "o:Symbol/o:TranslatedText").text == unit


def test_every_event_type_the_ledger_records_has_a_form() -> None:
    recorded = {name for name, value in vars(Participant).items()
                if isinstance(value, type) and issubclass(value, LedgerEvent)
                and value is not Participant.Event}
    mdv = one(_study(), "o:MetaDataVersion")
    forms = {f.get("Name") for f in mdv.iterfind("o:FormDef", NS)}
    assert forms == recorded
    refs = {r.get("FormOID") for r in mdv.iterfind("o:StudyEventDef/o:FormRef", NS)}
    assert refs == {f"F.{name}" for name in recorded}
    groups = {g.get("OID") for g in mdv.iterfind("o:ItemGroupDef", NS)
              if g.get("IsReferenceData") != "Yes"}  # the study record's: no form holds them
    items = {i.get("OID") for i in mdv.iterfind("o:ItemDef", NS)}
    codelists = {c.get("OID") for c in mdv.iterfind("o:CodeList", NS)}
    assert {r.get("ItemGroupOID") for r in mdv.iterfind(".//o:ItemGroupRef", NS)} == groups
    assert {r.get("ItemOID") for r in mdv.iterfind(".//o:ItemRef", NS)} == items
    assert {r.get("CodeListOID") for r in mdv.iterfind(".//o:CodeListRef", NS)} <= codelists


def test_every_study_record_event_has_a_reference_data_group() -> None:
    mdv = one(_study(), "o:MetaDataVersion")
    common = set(LedgerEvent.__annotations__) | {"originator_topic"}
    for name, event in vars(Study).items():
        if not (isinstance(event, type) and issubclass(event, LedgerEvent)) \
                or event is Study.Event:
            continue
        group = one(mdv, f"o:ItemGroupDef[@OID='IG.{name}']")
        assert group.get("IsReferenceData") == "Yes"
        own = [field for field in event.__annotations__ if field not in common]
        assert [r.get("ItemOID") for r in group.iterfind("o:ItemRef", NS)] == [
            f"IT.{name}.{field}" for field in own]


def test_the_metadata_is_valid_and_the_same_every_time() -> None:
    document = root("ODM", FileType="Snapshot", FileOID="metadata-only",
                    CreationDateTime="2026-01-01T00:00:00Z", ODMVersion="1.3.2")
    document.append(_study())
    assert odm_schema().validate(document), odm_schema().error_log
    assert etree.tostring(_study()) == etree.tostring(_study())
