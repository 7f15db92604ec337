"""The ODM metadata of the ledger, generated from the event catalogue: one form per event type,
its item groups and items, the code lists of every Literal and the units of every measurement.

Flattening: a form's first item group holds the event's single values (and `occurred_on`,
the entry's clinical date). Each list and each dict of the payload becomes a repeating item
group of its own, named by its path (`IG.TumorAssessed.reads.targets`); a row of a nested
group repeats the keys of the rows it sits in (a target lesion's row names its read's
criterion), so every row stands alone. A list of coded values (an AE's `related_to`) is a
repeating group with one item. Item OIDs are the dotted path of the field in the event's data
(`IT.TumorAssessed.reads.targets.diameter_mm`): the metadata reads as the catalogue does.
"""

from __future__ import annotations

import hashlib
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from domain.account import ROLES
from domain.events import CATALOGUE
from domain.ledger_event import LedgerEvent
from domain.participant import RECORD_KEEPING_TYPES, Participant
from domain.study import Study
from domain.values import DECIMALS
from services.exports.odm_shapes import (
    DICT_KEY_NAMES,
    Bound,
    Shape,
    model_fields,
    shape_of,
    unit_of,
)

OCCURRED_ON = "IT.occurred_on"
RECORD_KEEPING_ORDER = ("CasebookSigned", "ParticipantLocked", "ParticipantUnlocked",
                        "ParticipantTransferred")
ROLE_CODES: tuple[str, ...] = (*ROLES, "none", "system")
"""Every role an event can be recorded under: an account's role, `none` for an account whose
role was revoked, `system` for the ledger itself."""
FLAG_RECORDED_BY_ROLE = "recorded_by_role"


@dataclass(frozen=True)
class ItemSpec:
    """One ItemDef: `field` is the key of the value in a row of its group."""

    oid: str
    name: str
    field: str
    data_type: str
    codelist: str | None = None
    unit: str | None = None
    bounds: tuple[Bound, ...] = ()
    length: int | None = None
    description: str | None = None
    significant_digits: int | None = None
    mandatory: bool = False


@dataclass(frozen=True)
class Step:
    """How the rows of a repeating group are reached from the row above: through a list, or
    through a dict whose key becomes the item `key_field`."""

    field: str
    kind: Literal["list", "dict"]
    key_field: str | None = None
    value_field: str | None = None
    """For a list of single values: the field a value is put under in its row."""


@dataclass(frozen=True)
class GroupSpec:
    """One ItemGroupDef: its items (inherited keys first) and the path to its rows."""

    oid: str
    name: str
    repeating: bool
    items: tuple[ItemSpec, ...]
    steps: tuple[Step, ...] = ()
    key_items: int = 0
    """How many of `items` are the keys of the rows above (they come first)."""
    expected: tuple[str, ...] = ()
    """Every key of a row's node this group (or a group below it) carries, sorted."""


@dataclass(frozen=True)
class FormSpec:
    oid: str
    event_type: str
    kind: Literal["clinical", "administrative", "record-keeping"]
    description: str
    groups: tuple[GroupSpec, ...]
    repeating: bool = True


@dataclass(frozen=True)
class CodeListSpec:
    oid: str
    name: str
    data_type: str
    codes: tuple[Any, ...]


@dataclass(frozen=True)
class Metadata:
    """The whole MetaDataVersion, and for each catalogue field the ItemDefs that carry it."""

    oid: str
    forms: dict[str, FormSpec]
    codelists: dict[str, CodeListSpec]
    units: dict[str, str]
    correction_group: GroupSpec
    void_group: GroupSpec
    field_items: dict[tuple[str, str], tuple[str, ...]]
    study_groups: dict[str, GroupSpec]
    """The study record's events (cutoffs, the database lock) as reference-data groups."""

    def form_of(self, event_type: str) -> FormSpec:
        return self.forms[event_type]

    def items(self) -> dict[str, ItemSpec]:
        """Every ItemDef by OID (an item shared by several groups appears once)."""
        groups = [*self.groups().values(), *self.study_groups.values()]
        return {item.oid: item for group in groups for item in group.items}

    def groups(self) -> dict[str, GroupSpec]:
        return {group.oid: group for form in self.forms.values() for group in form.groups}


class _Builder:
    """Walks the catalogue's payload shapes into groups, items and code lists."""

    def __init__(self) -> None:
        self.codelists: dict[tuple[Any, ...], CodeListSpec] = {}
        self.units: dict[str, str] = {}
        self.field_items: dict[tuple[str, str], tuple[str, ...]] = {}

    def codelist(self, name: str, form: str, codes: tuple[Any, ...], data_type: str) -> str:
        """The code list of these coded values (one per distinct set of values)."""
        key = tuple(codes)
        if key not in self.codelists:
            taken = {c.oid for c in self.codelists.values()}
            oid = f"CL.{name}" if f"CL.{name}" not in taken else f"CL.{form}.{name}"
            self.codelists[key] = CodeListSpec(oid, name, data_type, key)
        return self.codelists[key].oid

    def item(self, form: str, path: str, name: str, shape: Shape, description: str | None,
             required: bool = True) -> ItemSpec:
        codelist = (self.codelist(name, form, shape.codes, shape.data_type)
                    if shape.codes else None)
        unit = unit_of(name) if shape.data_type in ("float", "integer") else None
        if unit is not None:
            self.units[unit] = "MU." + unit.replace("/", "_")
        return ItemSpec(f"IT.{form}.{path}", path, name, shape.data_type, codelist,
                        self.units.get(unit) if unit else None, shape.bounds, shape.length,
                        description, DECIMALS if shape.data_type == "float" else None,
                        required and not shape.nullable)

    def groups(self, form: str, fields: tuple[tuple[str, Shape, str | None, bool], ...],
               prefix: str, steps: tuple[Step, ...], keys: tuple[ItemSpec, ...],
               own: tuple[ItemSpec, ...] = (), *, passes_own: bool = False) -> list[GroupSpec]:
        """The group of these fields' single values (after the keys of the rows above and
        its `own` items), then one repeating group per list or dict among them, depth first.
        A dict's rows pass their key down (`passes_own`); the main group's occurred_on is not
        a key."""
        items: list[ItemSpec] = list(own)
        below: list[GroupSpec] = []
        down = keys + own if passes_own else keys
        for name, shape, description, required in fields:
            path = f"{prefix}{name}"
            if shape.kind == "scalar":
                items.append(self.item(form, path, name, shape, description, required))
                self.field_items[(form, path)] = (items[-1].oid,)
            elif shape.kind in ("list", "dict"):
                below += self.nested(form, path, name, shape, steps, down)
            else:
                self.field_items[(form, path)] = ()  # free JSON: a correction's whole data
        group_name = prefix.rstrip(".") or form
        expected = tuple(sorted(name for name, *_ in fields))
        group = GroupSpec(f"IG.{form}" + (f".{group_name}" if prefix else ""), group_name,
                          bool(steps), (*keys, *items), steps, len(keys), expected)
        return [group, *below]

    def nested(self, form: str, path: str, name: str, shape: Shape, steps: tuple[Step, ...],
               keys: tuple[ItemSpec, ...]) -> list[GroupSpec]:
        inner = shape.inner
        assert inner is not None
        if shape.kind == "dict":
            assert shape.key is not None
            key_name = DICT_KEY_NAMES.get(name, "key")
            key_item = self.item(form, f"{path}.{key_name}", key_name, shape.key, None)
            self.field_items[(form, f"{path}.<key>")] = (key_item.oid,)
            step = Step(name, "dict", key_field=key_name)
            fields = inner.fields if inner.kind == "model" else (("value", inner, None, True),)
            return self.groups(form, fields, f"{path}.", (*steps, step), keys, (key_item,),
                               passes_own=True)
        if inner.kind == "model":
            return self.groups(form, inner.fields, f"{path}.", (*steps, Step(name, "list")),
                               keys)
        value = self.item(form, path, name, inner, None)
        self.field_items[(form, path)] = (value.oid,)
        step = Step(name, "list", value_field=name)
        return [GroupSpec(f"IG.{form}.{path}", path, True, (*keys, value), (*steps, step),
                          len(keys), (name,))]


def _payload_fields(event_type: str) -> tuple[tuple[str, Shape, str | None, bool], ...]:
    if event_type in CATALOGUE:
        return model_fields(CATALOGUE[event_type].payload)
    data: Any = typing.get_type_hints(getattr(Participant, event_type)).get("data")
    return model_fields(data) if typing.is_typeddict(data) else ()


def study_event_types() -> dict[str, type[LedgerEvent]]:
    """The events of the study record stream, by name."""
    return {name: value for name, value in vars(Study).items()
            if isinstance(value, type) and issubclass(value, LedgerEvent)
            and value is not Study.Event}


def _study_group(builder: _Builder, name: str, event: type[LedgerEvent]) -> GroupSpec:
    """A study event's own fields (those beyond every ledger event's who/when/why)."""
    common = {*typing.get_type_hints(LedgerEvent), "originator_topic"}
    fields = tuple((field, shape_of(hint, []), None, True)
                   for field, hint in typing.get_type_hints(event).items()
                   if field not in common)
    (group,) = builder.groups(name, fields, "", (), ())
    return GroupSpec(group.oid, name, True, group.items, expected=group.expected)


def _occurred_on() -> ItemSpec:
    return ItemSpec(OCCURRED_ON, "occurred_on", "occurred_on", "date", description=(
        "The entry's clinical date (a correction may move it); on a correction's, void's or "
        "record-keeping row, the day it was made."), mandatory=True)


def _form(builder: _Builder, event_type: str) -> FormSpec:
    kind: Literal["clinical", "administrative", "record-keeping"]
    if event_type in RECORD_KEEPING_TYPES:
        kind, summary = "record-keeping", (getattr(Participant, event_type).__doc__ or "")
    else:
        spec = CATALOGUE[event_type]
        kind = "clinical" if spec.clinical else "administrative"
        summary = spec.summary
    groups = builder.groups(event_type, _payload_fields(event_type), "", (), (),
                            (_occurred_on(),))
    if kind == "administrative":  # its rows are keyed by the correction's or void's event id
        groups[0] = GroupSpec(groups[0].oid, groups[0].name, True, groups[0].items,
                              expected=groups[0].expected)
    return FormSpec(f"F.{event_type}", event_type, kind, " ".join(summary.split()),
                    tuple(groups), repeating=event_type != "ParticipantEnrolled")


@cache
def study_metadata() -> Metadata:
    """The metadata of every event type the ledger records (computed once)."""
    builder = _Builder()
    builder.codelist("role", "Annotation", ROLE_CODES, "text")
    builder.codelist("flag_type", "Annotation", (FLAG_RECORDED_BY_ROLE,), "text")
    order = [*CATALOGUE, *RECORD_KEEPING_ORDER]
    forms = {event_type: _form(builder, event_type) for event_type in order}
    for name in ("EntryCorrected", "EntryVoided"):
        builder.field_items.pop((name, "data"), None)
    correction = forms["EntryCorrected"].groups[0]
    clinical = [form.event_type for form in forms.values() if form.kind == "clinical"]
    for event_type in clinical:
        # Every clinical form may hold the record of the corrections made to it.
        form = forms[event_type]
        forms[event_type] = FormSpec(form.oid, form.event_type, form.kind, form.description,
                                     (*form.groups, correction), form.repeating)
    builder.field_items[("EntryCorrected", "data")] = tuple(
        item.oid for event_type in clinical for group in forms[event_type].groups
        if group is not correction for item in group.items if item.oid != OCCURRED_ON)
    study = {name: _study_group(builder, name, event)
             for name, event in study_event_types().items()}
    fingerprint = hashlib.sha256(repr((forms, study, builder.codelists)).encode()).hexdigest()
    return Metadata(f"MDV.{fingerprint[:12]}", forms,
                    {c.oid: c for c in builder.codelists.values()},
                    {oid: unit for unit, oid in builder.units.items()},
                    correction, forms["EntryVoided"].groups[0], dict(builder.field_items),
                    study)
