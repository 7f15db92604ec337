"""What a payload field's type says, read from its annotation: the ODM DataType, the coded
values of a Literal, the bounds, the length, the unit, and whether it nests (a list, a
dict keyed by a Literal, a model).

This is the one place that reads the pydantic annotations of the event catalogue, so a new
field, a new Literal or a new nested model shows in the exported metadata without anyone
writing it down twice.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MaxLen
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_ng_ml", "ng/mL"), ("_mg", "mg"), ("_ml", "mL"), ("_mm", "mm"),
)
"""A measurement's unit, named by its field's suffix (afp_ng_ml, dose_mg, lipiodol_ml,
diameter_mm): domain.values.measure() gives the range, the field name gives the unit."""
DICT_KEY_NAMES = {"reads": "criterion"}
"""The name of the item that carries a dict's key (a read's criterion); other dicts: `key`."""


@dataclass(frozen=True)
class Bound:
    """One end of a numeric range: ODM's RangeCheck comparator and value."""

    comparator: Literal["GE", "GT", "LE", "LT"]
    value: float


@dataclass(frozen=True)
class Shape:
    """A field's type as the export sees it.

    kind: `scalar` (one value), `list` (of `inner`), `dict` (Literal key -> `inner`),
    `model` (a nested model with `fields`), `any` (free JSON: a correction's whole data)."""

    kind: Literal["scalar", "list", "dict", "model", "any"]
    data_type: str = "text"
    codes: tuple[Any, ...] = ()
    nullable: bool = False
    bounds: tuple[Bound, ...] = ()
    length: int | None = None
    inner: Shape | None = None
    key: Shape | None = None
    fields: tuple[tuple[str, Shape, str | None, bool], ...] = field(default=())
    """(name, shape, description, required) of a model's fields, in declaration order."""


def unit_of(name: str) -> str | None:
    """The unit a measurement field's name carries, if any."""
    return next((unit for suffix, unit in UNIT_SUFFIXES if name.endswith(suffix)), None)


def model_fields(model: type[Any]) -> tuple[tuple[str, Shape, str | None, bool], ...]:
    """The fields of a payload model (pydantic) or of a record-keeping TypedDict."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return tuple((name, shape_of(info.annotation, list(info.metadata)), info.description,
                      info.is_required())
                     for name, info in model.model_fields.items())
    if typing.is_typeddict(model):
        return tuple((name, shape_of(hint, []), None, True)
                     for name, hint in typing.get_type_hints(model).items())
    return ()


def shape_of(annotation: Any, metadata: list[Any]) -> Shape:
    """The Shape of an annotation with the constraints pydantic moved into `metadata`."""
    annotation, metadata = _unwrap(annotation, metadata)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        inner = shape_of(members[0], metadata) if len(members) == 1 else Shape("any")
        return _nullable(inner)
    if origin is Literal:
        codes = typing.get_args(annotation)
        data_type = "integer" if all(type(c) is int for c in codes) else "text"
        return Shape("scalar", data_type, codes=codes)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return Shape("list", inner=shape_of(item, []))
    if origin is dict:
        key, value = typing.get_args(annotation)
        if value is Any:
            return Shape("any")
        return Shape("dict", key=shape_of(key, []), inner=shape_of(value, []))
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel)
                                         or typing.is_typeddict(annotation)):
        return Shape("model", fields=model_fields(annotation))
    return _scalar(annotation, metadata)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """Annotated[...] peeled off, its constraints (FieldInfo's included) added to metadata."""
    while typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            metadata = [*metadata, *(item.metadata if isinstance(item, FieldInfo) else [item])]
    return annotation, metadata


def _nullable(shape: Shape) -> Shape:
    return Shape(shape.kind, shape.data_type, shape.codes, True, shape.bounds, shape.length,
                 shape.inner, shape.key, shape.fields)


_DATA_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "float",
                                datetime: "datetime", date: "date", str: "text"}


def _scalar(annotation: Any, metadata: list[Any]) -> Shape:
    data_type = next((odm for python, odm in _DATA_TYPES.items()
                      if isinstance(annotation, type) and issubclass(annotation, python)),
                     "text")
    bounds: list[Bound] = []
    length = None
    for item in metadata:
        if isinstance(item, Ge):
            bounds.append(Bound("GE", float(item.ge)))  # type: ignore[arg-type]
        elif isinstance(item, Gt):
            bounds.append(Bound("GT", float(item.gt)))  # type: ignore[arg-type]
        elif isinstance(item, Le):
            bounds.append(Bound("LE", float(item.le)))  # type: ignore[arg-type]
        elif isinstance(item, Lt):
            bounds.append(Bound("LT", float(item.lt)))  # type: ignore[arg-type]
        elif isinstance(item, StringConstraints | MaxLen) and item.max_length is not None:
            length = item.max_length
    if data_type not in ("integer", "float"):
        bounds = []
    return Shape("scalar", data_type, bounds=tuple(bounds), length=length)
