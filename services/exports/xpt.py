"""SAS transport (XPT) version 5 datasets for the SDTM and ADaM exports: names, labels and
lengths checked, text escaped to ASCII without loss, header times fixed.

XPT v5 allows variable names of at most 8 characters, labels of at most 40, character values
of at most 200 bytes, and declares no text encoding (readers assume ASCII). The ledger's text
is Unicode, so every character value goes through `xpt_text` ("Text in SAS transport files" in
docs/exports/sdtm.md and docs/exports/adam.md): printable ASCII kept, a backslash as `\\\\`,
any other code point as `\\uXXXX` / `\\UXXXXXXXX`, a final space as `\\u0020` (XPT drops
trailing blanks); `xpt_decode` gives the stored text back exactly. A value over 200 bytes once
escaped is refused (`XptError`); SDTM splits it (`split_text`) into SUPP-- continuations.
The headers' created and modified times are the export's `created_at`, so the same export
made again has the same bytes. A `Column` carries its Define-XML metadata too (origin,
codelist, derivation), so a dataset and its define.xml come from the same definitions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyreadstat

MAX_NAME = 8
MAX_LABEL = 40
MAX_TEXT_BYTES = 200
NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
SAS_EPOCH = date(1960, 1, 1)
ESCAPE = re.compile(r"\\(?:(\\)|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))")
HEADER_TIME = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
"""A header record's created or modified time, as SAS writes it (16DEC25:14:03:59)."""
HEADER_TIMES = (144, 160, 464, 480)
"""The created and modified times in the library's and the member's 80-byte header records."""
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

Kind = Literal["text", "integer", "float", "date", "partialDate", "sasDate"]
"""What a variable holds: text; a number; ISO 8601 text (`date`, `partialDate`: SDTM's --DTC);
or a SAS date, days since 1960-01-01 with the DATE9. format (`sasDate`: ADaM's *DT)."""
Origin = Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Not Available"]
"""Define-XML 2.1 def:Origin Type."""


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
        return self.kind in ("integer", "float", "sasDate")

    @property
    def data_type(self) -> str:
        """Define-XML DataType: a SAS date is an integer (days) with a display format."""
        return "integer" if self.kind == "sasDate" else self.kind


@dataclass(frozen=True)
class Dataset:
    """A dataset declared once (ADaM's): its name, label and variables."""

    name: str
    label: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


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
    """`value` as printable ASCII that `xpt_decode` takes back to it exactly: printable ASCII
    kept, `\\` as `\\\\`, any other code point as `\\uXXXX` / `\\UXXXXXXXX`, a final space as
    `\\u0020` (module docstring)."""
    if value.isascii() and value.isprintable() and "\\" not in value \
            and not value.endswith(" "):
        return value
    text = "".join(_escaped(char) for char in value)
    return text[:-1] + "\\u0020" if value.endswith(" ") else text


def xpt_decode(text: str) -> str:
    """The stored text a value written by `xpt_text` came from. Anything `xpt_text` cannot
    have written (a stray backslash, a character outside printable ASCII) is refused."""
    rest = ESCAPE.sub("", text)
    if "\\" in rest or not (rest.isascii() and rest.isprintable()):
        raise ValueError(f"not text written by the XPT escaping rule: {text[:40]!r}")
    return ESCAPE.sub(_unescaped, text)


def split_text(value: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Stored text `value` in pieces whose concatenation is `value` and each of which, escaped
    by `xpt_text`, is at most `limit` bytes; cut before a space where one is near (the space
    starts the next piece) and never inside a character."""
    prefix = [0]
    for char in value:
        prefix.append(prefix[-1] + len(_escaped(char)))
    pieces: list[str] = []
    start = 0
    while True:
        end = start
        while end < len(value) and _cost(value, prefix, start, end + 1) <= limit:
            end += 1
        end = max(end, start + 1)
        if end >= len(value):
            pieces.append(value[start:])
            return pieces
        for at in range(end, start + (end - start) // 2, -1):
            if value[at] == " " and value[at - 1] != " ":
                end = at
                break
        pieces.append(value[start:end])
        start = end


def _cost(value: str, prefix: list[int], start: int, end: int) -> int:
    """Bytes of `xpt_text(value[start:end])`."""
    return prefix[end] - prefix[start] + (5 if value[end - 1] == " " else 0)


def _escaped(char: str) -> str:
    if " " <= char <= "~":
        return "\\\\" if char == "\\" else char
    code = ord(char)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _unescaped(match: re.Match[str]) -> str:
    if match[1]:
        return "\\"
    code = int(match[2] or match[3], 16)
    if code > 0x10FFFF:
        raise ValueError(f"{match[0]} is beyond Unicode")
    return chr(code)


def sas_date(value: date) -> float:
    """Days since 1960-01-01, the SAS date of `value`."""
    return float(value.toordinal() - SAS_EPOCH.toordinal())


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
              rows: Iterable[Mapping[str, Any]], *, created_at: datetime) -> WrittenXpt:
    """Write one XPT v5 dataset. Each row maps variable names to values (None: missing);
    a name not among `columns` is refused, never dropped, and so is a value of the wrong kind
    or one over 200 bytes once escaped; nothing is written then. Text goes through
    `xpt_text`; ISO date kinds are written as text, `sasDate` as a SAS date. The headers carry
    `created_at` (UTC) as their created and modified times."""
    check_columns(table_name, label, columns)
    names = [column.name for column in columns]
    known = set(names)
    data: dict[str, list[Any]] = {name: [] for name in names}
    count = 0
    for count, row in enumerate(rows, start=1):
        unknown = set(row) - known
        if unknown:
            raise XptError(f"{table_name} row {count}: values for undefined variables "
                           f"{sorted(unknown)}")
        for column in columns:
            where = f"{table_name}.{column.name} row {count}"
            data[column.name].append(_cell(where, column, row.get(column.name)))
    frame = pd.DataFrame({name: pd.Series(values, dtype="float64" if column.numeric else object)
                          for (name, values), column in zip(data.items(), columns, strict=True)})
    pyreadstat.write_xport(frame, str(path), file_label=label, table_name=table_name,
                           column_labels=[column.label for column in columns],
                           file_format_version=5,
                           variable_format={c.name: "DATE9." for c in columns
                                            if c.kind == "sasDate"})
    _stamp_headers(path, created_at)
    lengths = {c.name: _length(c, data[c.name]) for c in columns}
    decimals = {c.name: max((_decimals(v) for v in data[c.name] if not math.isnan(v)),
                            default=0) for c in columns if c.kind == "float"}
    return WrittenXpt(path, table_name, label, tuple(columns), lengths, decimals, count)


def _stamp_headers(path: Path, stamp: datetime) -> None:
    """The library's and the member's created and modified times set to `stamp` (UTC), at
    their fixed places in the 80-byte header records."""
    moment = stamp.astimezone(UTC)
    text = (f"{moment.day:02d}{MONTHS[moment.month - 1]}{moment.year % 100:02d}:"
            f"{moment:%H:%M:%S}").encode("ascii")
    content = bytearray(path.read_bytes())
    for offset in HEADER_TIMES:
        if not HEADER_TIME.fullmatch(bytes(content[offset:offset + 16])):
            raise XptError(f"{path.name}: no header time at byte {offset}")
        content[offset:offset + 16] = text
    path.write_bytes(bytes(content))


def _cell(where: str, column: Column, value: Any) -> Any:
    if value is None:
        return math.nan if column.numeric else ""
    if column.kind == "sasDate":
        if not isinstance(value, date) or isinstance(value, datetime):
            raise XptError(f"{where}: {value!r} is not a date")
        return sas_date(value)
    if column.numeric:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise XptError(f"{where}: {value!r} is not a number")
        if not math.isfinite(value):
            raise XptError(f"{where}: {value!r} is not a finite number")
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    if not isinstance(value, str):
        raise XptError(f"{where}: {value!r} is not text")
    text = xpt_text(value)
    if len(text) > MAX_TEXT_BYTES:
        raise XptError(f"{where}: {len(text)} bytes once escaped, over the {MAX_TEXT_BYTES} "
                       f"of an XPT v5 character value: {text[:40]!r}...")
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
