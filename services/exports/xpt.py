"""SAS transport (XPT) version 5 datasets, with their names, labels and lengths checked.

XPT v5 is what regulators take for SDTM and ADaM: variable names of at most 8 characters,
labels of at most 40, character values of at most 200 bytes, and no declared text encoding
(readers assume ASCII). The ledger's text is Unicode, so every character value goes through
`xpt_text` first (docs/exports/sdtm.md, "Text in SAS transport files"): printable ASCII is kept
as it is, an accented or compatibility letter becomes its ASCII base (é -> e, ﬁ -> fi), common
typographic marks become their ASCII look-alikes (’ -> ', – -> -), tab and newline become a
space, and any other character is written as its code point, `[U+1F600]`, so nothing is lost
silently and the file is pure ASCII. A value still longer than 200 bytes after that is refused
(`XptError`): the caller splits it (`split_text`) where its standard says where the rest goes.

A `Column` carries what Define-XML says of the variable too (origin, codelist, derivation), so
the dataset and its define.xml are made from the same definitions and cannot drift apart.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyreadstat

MAX_NAME = 8
MAX_LABEL = 40
MAX_TEXT_BYTES = 200
NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")

Kind = Literal["text", "integer", "float", "date", "partialDate"]
"""Define-XML DataType of a variable; the date kinds are ISO 8601 text in the file."""
Origin = Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Not Available"]
"""Define-XML 2.1 def:Origin Type."""

_LOOK_ALIKES = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00b5": "u", "\u03bc": "u",
    "\u00b1": "+/-", "\u2264": "<=", "\u2265": ">=", "\u00d7": "x", "\u00b0": " deg",
    "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE",
    "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u00f0": "d", "\u00fe": "th",
    "\t": " ", "\n": " ", "\r": " ",
}
"""Characters NFKD does not take to ASCII but that have an obvious ASCII rendering."""


class XptError(ValueError):
    """A dataset that XPT v5 cannot hold as given (a name, label or value out of bounds)."""


@dataclass(frozen=True)
class CodeList:
    """Controlled values of a variable: (coded value, decode or None) pairs, or an external
    dictionary (e.g. CTCAE 5.0) when `dictionary` is given."""

    oid: str
    name: str
    items: tuple[tuple[str, str | None], ...] = ()
    dictionary: str | None = None
    version: str | None = None

    @property
    def values(self) -> frozenset[str]:
        return frozenset(code for code, _ in self.items)


@dataclass(frozen=True)
class Column:
    """One variable: its name and label in the file, and its Define-XML metadata."""

    name: str
    label: str
    kind: Kind = "text"
    origin: Origin = "Collected"
    codelist: CodeList | None = None
    method: str | None = None
    """How a Derived value is computed (Define-XML MethodDef)."""
    mandatory: bool = False

    @property
    def numeric(self) -> bool:
        return self.kind in ("integer", "float")


@dataclass(frozen=True)
class WrittenXpt:
    """What `write_xpt` wrote: the file, its metadata, and each variable's length as Define-XML
    gives it (bytes for text; digits for numbers, with `decimals` for floats)."""

    path: Path
    name: str
    label: str
    columns: tuple[Column, ...]
    lengths: Mapping[str, int]
    decimals: Mapping[str, int]
    rows: int


def xpt_text(value: str) -> str:
    """`value` as printable ASCII: kept where it is ASCII, transliterated where a letter has an
    ASCII base, `[U+XXXX]` for any other character (module docstring)."""
    if value.isascii() and value.isprintable():
        return value
    out: list[str] = []
    for char in unicodedata.normalize("NFC", value):
        if " " <= char <= "~":
            out.append(char)
        elif char in _LOOK_ALIKES:
            out.append(_LOOK_ALIKES[char])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char)
                           if not unicodedata.combining(c))
            printable = base and all(" " <= c <= "~" for c in base)
            out.append(base if printable else f"[U+{ord(char):04X}]")
    return "".join(out)


def split_text(value: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """ASCII `value` in pieces of at most `limit` characters whose concatenation is `value`,
    cut before a space where one is near (a piece never ends with a blank, which XPT drops)."""
    pieces: list[str] = []
    rest = value
    while len(rest) > limit:
        cut = limit
        for at in range(limit, limit // 2, -1):
            if rest[at] == " " and rest[at - 1] != " ":
                cut = at
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


def check_columns(table_name: str, label: str, columns: Sequence[Column]) -> None:
    """XPT v5's limits on the dataset's own name and label and on every variable's."""
    if not NAME.fullmatch(table_name):
        raise XptError(f"dataset name {table_name!r}: 1-{MAX_NAME} of A-Z, 0-9, _")
    _check_label(f"dataset {table_name}", label)
    seen: set[str] = set()
    for column in columns:
        if not NAME.fullmatch(column.name):
            raise XptError(f"{table_name}: variable name {column.name!r}: 1-{MAX_NAME} of "
                           "A-Z, 0-9, _, starting with a letter")
        if column.name in seen:
            raise XptError(f"{table_name}: variable {column.name} defined twice")
        seen.add(column.name)
        _check_label(f"{table_name}.{column.name}", column.label)


def _check_label(what: str, label: str) -> None:
    if not label or len(label) > MAX_LABEL or xpt_text(label) != label:
        raise XptError(f"{what}: label {label!r} must be 1-{MAX_LABEL} printable ASCII "
                       "characters")


def write_xpt(path: Path, table_name: str, label: str, columns: Sequence[Column],
              rows: Iterable[Mapping[str, Any]]) -> WrittenXpt:
    """Write one XPT v5 dataset. Each row maps variable names to values (None: missing);
    a name not among `columns` is refused, never dropped. Text goes through `xpt_text`;
    dates are written as ISO 8601 text."""
    check_columns(table_name, label, columns)
    names = [column.name for column in columns]
    known = set(names)
    data: dict[str, list[Any]] = {name: [] for name in names}
    count = 0
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise XptError(f"{table_name}: values for undefined variables {sorted(unknown)}")
        for column in columns:
            data[column.name].append(_cell(table_name, column, row.get(column.name)))
        count += 1
    frame = pd.DataFrame({name: pd.Series(values, dtype=_dtype(column))
                          for (name, values), column in zip(data.items(), columns, strict=True)})
    pyreadstat.write_xport(frame, str(path), file_label=label, table_name=table_name,
                           column_labels=[column.label for column in columns],
                           file_format_version=5)
    lengths = {c.name: _length(c, data[c.name]) for c in columns}
    decimals = {c.name: max((_decimals(v) for v in data[c.name] if not math.isnan(v)),
                            default=0) for c in columns if c.kind == "float"}
    return WrittenXpt(path, table_name, label, tuple(columns), lengths, decimals, count)


def _dtype(column: Column) -> str:
    return "float64" if column.numeric else "object"


def _cell(table_name: str, column: Column, value: Any) -> Any:
    if column.numeric:
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise XptError(f"{table_name}.{column.name}: {value!r} is not a number")
        return float(value)
    if value is None:
        return ""
    text = xpt_text(value.isoformat() if isinstance(value, date) else str(value))
    if len(text) > MAX_TEXT_BYTES:
        raise XptError(f"{table_name}.{column.name}: a value of {len(text)} bytes is longer "
                       f"than XPT's {MAX_TEXT_BYTES}: {text[:40]!r}...")
    return text


def _length(column: Column, values: list[Any]) -> int:
    if column.numeric:
        return max((len(_plain(v).replace("-", "").replace(".", ""))
                    for v in values if not math.isnan(v)), default=1)
    return max((len(v) for v in values), default=1) or 1


def _plain(value: float) -> str:
    """A number as Define-XML counts its digits: no exponent, no trailing zeros."""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text or "0"


def _decimals(value: float) -> int:
    text = _plain(value)
    return len(text.split(".")[1]) if "." in text else 0
