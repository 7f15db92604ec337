"""The Study element of the ODM export: global variables, measurement units and the
MetaDataVersion generated from the event catalogue (services/exports/odm_model.py).

One study event, the casebook (`SE.casebook`, type Common, not repeating), holds every form:
the ledger has no visits, and every entry, correction, void, signature, lock and transfer is
one form transaction in it, in the order the ledger recorded them.
"""

from __future__ import annotations

from domain.protocol import TRIAL_TITLE
from services.exports.odm_model import FormSpec, GroupSpec, ItemSpec, Metadata
from services.exports.odm_xml import Element, decimal_text, root, sub, translated, value_text

STUDY_OID = "ST.trial-ledger"
STUDY_EVENT_OID = "SE.casebook"
SOURCE_SYSTEM = "trial-ledger"


def study_element(metadata: Metadata) -> Element:
    """<Study>: the whole study-level metadata of the export."""
    study = root("Study", OID=STUDY_OID)
    globals_ = sub(study, "GlobalVariables")
    sub(globals_, "StudyName", SOURCE_SYSTEM)
    sub(globals_, "StudyDescription", f"{TRIAL_TITLE}: single-arm phase II; primary endpoint "
                                      "ORR by RECIST 1.1 and mRECIST.")
    sub(globals_, "ProtocolName", TRIAL_TITLE)
    basics = sub(study, "BasicDefinitions")
    for oid, unit in metadata.units.items():
        measurement = sub(basics, "MeasurementUnit", OID=oid, Name=unit)
        translated(measurement, "Symbol", unit)
    mdv = sub(study, "MetaDataVersion", OID=metadata.oid, Name="trial-ledger event catalogue",
              Description="Generated from the ledger's event catalogue: one form per event "
                          "type, item groups and items from its payload schema.")
    protocol = sub(mdv, "Protocol")
    translated(protocol, "Description", TRIAL_TITLE)
    sub(protocol, "StudyEventRef", StudyEventOID=STUDY_EVENT_OID, OrderNumber="1",
        Mandatory="Yes")
    event_def = sub(mdv, "StudyEventDef", OID=STUDY_EVENT_OID, Name="Casebook",
                    Repeating="No", Type="Common", Category="casebook")
    translated(event_def, "Description", "A participant's casebook: every event of their "
                                         "stream, in ledger order.")
    for order, form in enumerate(metadata.forms.values(), start=1):
        sub(event_def, "FormRef", FormOID=form.oid, OrderNumber=str(order),
            Mandatory="Yes" if form.event_type == "ParticipantEnrolled" else "No")
    for form in metadata.forms.values():
        _form_def(mdv, form)
    for group in metadata.groups().values():
        _group_def(mdv, group)
    for group in metadata.study_groups.values():
        _group_def(mdv, group, reference=True)
    for item in metadata.items().values():
        _item_def(mdv, item)
    for codelist in metadata.codelists.values():
        element = sub(mdv, "CodeList", OID=codelist.oid, Name=codelist.name,
                      DataType=codelist.data_type)
        for order, code in enumerate(codelist.codes, start=1):
            sub(element, "EnumeratedItem", CodedValue=value_text(code), OrderNumber=str(order))
    return study


def _form_def(mdv: Element, form: FormSpec) -> None:
    element = sub(mdv, "FormDef", OID=form.oid, Name=form.event_type,
                  Repeating="Yes" if form.repeating else "No")
    translated(element, "Description", f"{form.kind}: {form.description}")
    for order, group in enumerate(form.groups, start=1):
        sub(element, "ItemGroupRef", ItemGroupOID=group.oid, OrderNumber=str(order),
            Mandatory="Yes" if order == 1 and not group.repeating else "No")


def _group_def(mdv: Element, group: GroupSpec, *, reference: bool = False) -> None:
    element = sub(mdv, "ItemGroupDef", OID=group.oid, Name=group.name,
                  Repeating="Yes" if group.repeating else "No",
                  IsReferenceData="Yes" if reference else None)
    if reference:
        translated(element, "Description", f"The study record's {group.name} events, one row "
                                           "each (ReferenceData), keyed by event id.")
    elif group.key_items:
        keys = ", ".join(item.name for item in group.items[:group.key_items])
        translated(element, "Description", f"One row per {group.name}; repeats the keys of "
                                           f"the rows it belongs to ({keys}).")
    for order, item in enumerate(group.items, start=1):
        sub(element, "ItemRef", ItemOID=item.oid, OrderNumber=str(order),
            Mandatory="Yes" if item.mandatory else "No")


def _item_def(mdv: Element, item: ItemSpec) -> None:
    element = sub(mdv, "ItemDef", OID=item.oid, Name=item.name, DataType=item.data_type,
                  Length=None if item.length is None else str(item.length),
                  SignificantDigits=None if item.significant_digits is None
                  else str(item.significant_digits))
    if item.description:
        translated(element, "Description", " ".join(item.description.split()))
    if item.unit is not None:
        sub(element, "MeasurementUnitRef", MeasurementUnitOID=item.unit)
    for bound in item.bounds:
        check = sub(element, "RangeCheck", Comparator=bound.comparator, SoftHard="Hard")
        value = int(bound.value) if item.data_type == "integer" else bound.value
        sub(check, "CheckValue", decimal_text(value))
    if item.codelist is not None:
        sub(element, "CodeListRef", CodeListOID=item.codelist)
