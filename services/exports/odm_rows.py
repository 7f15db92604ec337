"""An event's data as the rows of its form's item groups (the flattening odm_model describes).

A row of a repeating group is keyed by what names it in the data: a read by its criterion, a
lesion by its criterion and lesion id (`RECIST 1.1/T1`), a coded value by itself (`TACE`);
where the data holds no such name, or names two rows alike (only an event recorded before
today's checks could), by its place (`#2`). A correction that changes one lesion therefore
updates that lesion's row and no other.

Whatever the data holds that no item carries (a field a later release dropped from the
catalogue) is returned as `unmapped`, path -> value, so the writer can keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.exports.odm_model import OCCURRED_ON, FormSpec, GroupSpec, ItemSpec, study_metadata
from services.exports.odm_xml import value_text


@dataclass(frozen=True)
class Row:
    """One ItemGroupData: its group, its repeat key (None: the form's main group) and the
    (item, value) pairs in the group's item order (value None: no value)."""

    group: GroupSpec
    key: str | None
    values: tuple[tuple[ItemSpec, Any], ...]


@dataclass
class Flattened:
    """An event's rows, and what its data holds that no item carries."""

    rows: list[Row] = field(default_factory=list)
    unmapped: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> dict[str, set[str]]:
        """The repeat keys of each repeating group present."""
        found: dict[str, set[str]] = {}
        for row in self.rows:
            if row.key is not None:
                found.setdefault(row.group.oid, set()).add(row.key)
        return found


def flatten(form: FormSpec, data: Mapping[str, Any], occurred_on: str | None) -> Flattened:
    """The rows of `data` in `form`'s groups (the correction-record group excepted), with the
    main group's occurred_on when given."""
    out = Flattened()
    main, *nested = [g for g in form.groups if g.steps or not g.repeating]
    out.rows.append(_row(main, None, data, {}, occurred_on))
    _unmapped(data, main.expected, form.event_type, out)
    for group in nested:
        for key, keys, node in _nodes(group, data, out):
            out.rows.append(_row(group, key, node, keys, None))
    return out


def record_row(group: GroupSpec, key: str, occurred_on: str | None, data: Mapping[str, Any]
               ) -> Row:
    """A correction's or a void's own row: the day it was made and its own fields."""
    return Row(group, key, tuple((item, occurred_on if item.oid == OCCURRED_ON
                                  else data.get(item.field)) for item in group.items))


def _row(group: GroupSpec, key: str | None, node: Any, keys: Mapping[str, Any],
         occurred_on: str | None) -> Row:
    values = []
    for index, item in enumerate(group.items):
        if item.oid == OCCURRED_ON:
            value = occurred_on
        elif index < group.key_items or item.field in keys:
            value = keys.get(item.field)
        elif isinstance(node, Mapping):
            value = node.get(item.field)
        else:
            value = None
        values.append((item, value))
    return Row(group, key, tuple(values))


def _nodes(group: GroupSpec, data: Mapping[str, Any], out: Flattened
           ) -> list[tuple[str, dict[str, Any], Any]]:
    """(repeat key, keys of the rows above, node) of every row of a repeating group."""
    level: list[tuple[list[str], dict[str, Any], Any]] = [([], {}, data)]
    for depth, step in enumerate(group.steps):
        below: list[tuple[list[str], dict[str, Any], Any]] = []
        for names, keys, node in level:
            value = node.get(step.field) if isinstance(node, Mapping) else None
            if step.kind == "dict" and isinstance(value, Mapping):
                assert step.key_field is not None
                below += [([*names, str(key)], {**keys, step.key_field: key}, inner)
                          for key, inner in value.items()]
            elif step.kind == "list" and isinstance(value, list):
                below += [([*names, str(inner)], keys, {step.value_field: inner})
                          if step.value_field is not None else
                          ([*names, _natural(inner)], keys, inner) for inner in value]
            elif value is not None:  # not the shape the catalogue gives: kept as it is
                path = ".".join(s.field for s in group.steps[:depth + 1])
                out.unmapped[path] = value
        level = below
    rows = []
    seen: set[str] = set()
    for index, (names, keys, node) in enumerate(level, start=1):
        key = "/".join(names) if all(names) else f"#{index}"
        if key in seen:
            key = f"{key}#{index}"
        seen.add(key)
        _unmapped(node, group.expected, f"{group.name}[{key}]", out)
        rows.append((key, keys, node))
    return rows


def _natural(node: Any) -> str:
    """What names a model row in its list: its first `*_id` field ('' when it has none)."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            if name.endswith("_id") and isinstance(value, str) and value:
                return value
    return ""


def _unmapped(node: Any, expected: tuple[str, ...], where: str, out: Flattened) -> None:
    if not isinstance(node, Mapping):
        out.unmapped[where] = node
        return
    for name, value in node.items():
        if name not in expected:
            out.unmapped[f"{where}.{name}"] = value


# -- the way back: rows read from a file into an event's data ------------------------------

ReadRow = tuple[GroupSpec, dict[str, str | None]]
"""One ItemGroupData read back: its group and its items' Values by item OID (None: IsNull)."""


def typed_value(item: ItemSpec, text: str | None) -> Any:
    """An ItemData Value as the JSON value it was written from (`value_text` inverted by the
    item's DataType, a coded value as the code it was written from, so `Literal[True]` reads
    as true); text that does not read as its type is kept as text."""
    if text is None:
        return None
    if item.codelist is not None:
        codes = study_metadata().codelists[item.codelist].codes
        for code in codes:
            if value_text(code) == text:
                return code
    try:
        if item.data_type == "integer":
            return int(text)
        if item.data_type == "float":
            return float(text)
    except ValueError:
        return text
    if item.data_type == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def unflatten(form: FormSpec, rows: list[ReadRow]) -> tuple[dict[str, Any], str | None]:
    """An event's data and its main group's occurred_on from its form's rows, in the order
    `flatten` wrote them: the inverse of `flatten` (every value of the main group and of each
    row, an absent one as None, as the stored data holds it; lists and dicts rebuilt in row
    order). Rows of a group `form` does not repeat this way (a correction's record) are the
    caller's."""
    data: dict[str, Any] = {}
    occurred_on: str | None = None
    for group, values in rows:
        if not group.steps:
            for item in group.items:
                if item.oid == OCCURRED_ON:
                    occurred_on = values.get(item.oid)
                else:
                    data[item.field] = typed_value(item, values.get(item.oid))
        else:
            _place(data, group, values)
    return data, occurred_on


def _place(data: dict[str, Any], group: GroupSpec, values: dict[str, str | None]) -> None:
    """Put one nested row where `_nodes` found it: down the group's steps, a dict by the key
    item of that step, a list by appending (the rows come in list order)."""
    above = {item.field: typed_value(item, values.get(item.oid))
             for item in group.items[:group.key_items]}
    own = group.items[group.key_items:]
    node: Any = data
    for depth, step in enumerate(group.steps):
        last = depth == len(group.steps) - 1
        if step.kind == "dict":
            container = node.setdefault(step.field, {})
            if last:
                key_item = next(i for i in own if i.field == step.key_field)
                key = typed_value(key_item, values.get(key_item.oid))
                fields = [i for i in own if i is not key_item]
                if group.expected == ("value",):  # a dict of single values
                    container[key] = typed_value(fields[0], values.get(fields[0].oid))
                    return
                node = container.setdefault(key, {})
                for item in fields:
                    node[item.field] = typed_value(item, values.get(item.oid))
                return
            node = container.setdefault(above[str(step.key_field)], {})
        else:
            container = node.setdefault(step.field, [])
            if not last:  # a row of a list of models with lists of its own: the latest one
                node = container[-1]
                continue
            if step.value_field is not None:
                item = next(i for i in own if i.field == step.value_field)
                container.append(typed_value(item, values.get(item.oid)))
            else:
                container.append({item.field: typed_value(item, values.get(item.oid))
                                  for item in own})
