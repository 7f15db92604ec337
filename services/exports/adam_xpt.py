"""ADaM datasets as SAS transport files (XPT version 5): the variables each dataset declares,
and the checks a version 5 file needs before anything is written.

Version 5 limits names to 8 characters, labels to 40 and character values to 200 bytes; a
dataset that breaks one of them is refused with a ValueError naming the dataset, the variable
and the row, never truncated. Dates are SAS dates (days since 1960-01-01) with the DATE9.
format, as ADaM's *DT variables are.

The header's created and modified times are the export's own moment (`stamp`), not the
clock at writing, so the same export made again gives the same bytes and the same SHA-256.

Text is carried as ASCII: a value is written as Python's `unicode_escape` of itself, which
leaves printable ASCII as it is and writes anything else as an escape (`é` as `\\xe9`, `→` as
`\\u2192`, a backslash as `\\\\`), so nothing is dropped and `codecs.decode(value,
"unicode_escape")` gives the stored text back. The values these datasets hold are mostly
identifiers and fixed terms, which are ASCII already.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
import pyreadstat

MAX_NAME = 8
MAX_LABEL = 40
MAX_CHAR_BYTES = 200
SAS_EPOCH = date(1960, 1, 1)
NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
HEADER_TIME = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
"""A header record's created or modified time, as SAS writes it (16DEC25:14:03:59)."""
HEADER_TIMES = (144, 160, 464, 480)
"""Where the created and modified times are: the library header's second and third 80-byte
records, the member header's (after its MEMBER and DSCRPTR records) likewise."""
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

Kind = Literal["char", "num", "date"]
Value = str | int | float | date | None


@dataclass(frozen=True)
class Column:
    """One variable: its name, label and kind (character, numeric, or a SAS date)."""

    name: str
    label: str
    kind: Kind = "char"


@dataclass(frozen=True)
class Dataset:
    """A dataset's name (the file is its name in lower case, `.xpt`), label and variables."""

    name: str
    label: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def ascii_text(value: str) -> str:
    """The value as XPT carries it: printable ASCII unchanged, anything else escaped."""
    return value.encode("unicode_escape").decode("ascii")


def check_dataset(dataset: Dataset) -> None:
    """Names, labels and the dataset's own name within the version 5 limits."""
    _check_name(dataset.name, f"dataset {dataset.name!r}")
    _check_label(dataset.label, f"dataset {dataset.name}")
    seen: set[str] = set()
    for column in dataset.columns:
        _check_name(column.name, f"{dataset.name}.{column.name}")
        _check_label(column.label, f"{dataset.name}.{column.name}")
        if column.name in seen:
            raise ValueError(f"{dataset.name}: variable {column.name} declared twice")
        seen.add(column.name)


def write_xpt(dataset: Dataset, rows: Sequence[Mapping[str, Value]], directory: Path,
              stamp: datetime | None = None) -> Path:
    """Write `rows` (each a mapping of variable name to value; a missing variable is empty) to
    `<directory>/<name>.xpt` and return the path. A row naming a variable the dataset does not
    declare, a value of the wrong kind or a character value over 200 bytes is refused.
    `stamp`: the time the headers carry (default: now)."""
    check_dataset(dataset)
    known = set(dataset.names)
    for index, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - known)
        if unknown:
            raise ValueError(f"{dataset.name} row {index}: variables not declared: "
                             f"{', '.join(unknown)}")
    columns = {column.name: _column_values(dataset, column, rows) for column in dataset.columns}
    frame = pd.DataFrame(columns, columns=list(dataset.names))
    path = directory / f"{dataset.name.lower()}.xpt"
    pyreadstat.write_xport(
        frame, str(path), file_label=dataset.label, column_labels=[c.label for c in dataset.columns],
        table_name=dataset.name, file_format_version=5,
        variable_format={c.name: "DATE9." for c in dataset.columns if c.kind == "date"},
    )
    if stamp is not None:
        _stamp_headers(path, stamp)
    return path


def _stamp_headers(path: Path, stamp: datetime) -> None:
    """The library's and the member's created and modified times set to `stamp` (UTC), at
    their fixed places in the 80-byte header records."""
    moment = stamp.astimezone(UTC)
    text = (f"{moment.day:02d}{MONTHS[moment.month - 1]}{moment.year % 100:02d}:"
            f"{moment:%H:%M:%S}").encode("ascii")
    content = bytearray(path.read_bytes())
    for offset in HEADER_TIMES:
        if not HEADER_TIME.fullmatch(bytes(content[offset:offset + 16])):
            raise ValueError(f"{path.name}: no header time at byte {offset}")
        content[offset:offset + 16] = text
    path.write_bytes(bytes(content))


def sas_date(value: date) -> float:
    """Days since 1960-01-01, the SAS date of `value`."""
    return float((value - SAS_EPOCH).days)


def _column_values(dataset: Dataset, column: Column, rows: Sequence[Mapping[str, Value]]
                   ) -> pd.Series:
    where = f"{dataset.name}.{column.name}"
    if column.kind == "char":
        texts = [_char(row.get(column.name), f"{where} row {i}") for i, row in enumerate(rows, 1)]
        return pd.Series(texts, dtype=object)
    numbers = [_number(row.get(column.name), column.kind, f"{where} row {i}")
               for i, row in enumerate(rows, 1)]
    return pd.Series(numbers, dtype="float64")


def _char(value: Value, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {value!r} is not text")
    text = ascii_text(value)
    if len(text.encode("ascii")) > MAX_CHAR_BYTES:
        raise ValueError(f"{where}: {len(text)} bytes, over the {MAX_CHAR_BYTES}-byte limit of "
                         f"XPT version 5 character values")
    return text


def _number(value: Value, kind: Kind, where: str) -> float:
    if value is None:
        return math.nan
    if kind == "date":
        if not isinstance(value, date):
            raise TypeError(f"{where}: {value!r} is not a date")
        return sas_date(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{where}: {value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a finite number")
    return float(value)


def _check_name(name: str, where: str) -> None:
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ValueError(f"{where}: a name must be 1 to {MAX_NAME} upper-case letters, digits "
                         f"or underscores, starting with a letter")


def _check_label(label: str, where: str) -> None:
    if len(label) > MAX_LABEL or not label.isascii():
        raise ValueError(f"{where}: label {label!r} must be ASCII and at most {MAX_LABEL} "
                         f"characters")
