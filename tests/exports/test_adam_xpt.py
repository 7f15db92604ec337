"""The ADaM transport-file writer: version 5 limits refused loudly, text carried as ASCII
without loss, dates as SAS dates, read back with pyreadstat."""

from __future__ import annotations

import codecs
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pyreadstat
import pytest

from services.exports.adam_xpt import Column, Dataset, Value, ascii_text, write_xpt

DEMO = Dataset("DEMO", "A Small Dataset", (
    Column("USUBJID", "Unique Subject Identifier"),
    Column("AVAL", "Analysis Value", "num"),
    Column("ADT", "Analysis Date", "date"),
))


def test_values_dates_and_labels_read_back(tmp_path: Path) -> None:
    rows: list[dict[str, Value]] = [{"USUBJID": "S-1", "AVAL": 12, "ADT": date(2024, 2, 29)},
                                    {"USUBJID": "S-2", "AVAL": None, "ADT": None}]
    path = write_xpt(DEMO, rows, tmp_path)
    frame, meta = pyreadstat.read_xport(str(path))
    assert path.name == "demo.xpt"
    assert meta.table_name == "DEMO"
    assert meta.column_names_to_labels == {"USUBJID": "Unique Subject Identifier",
                                           "AVAL": "Analysis Value", "ADT": "Analysis Date"}
    assert meta.original_variable_types["ADT"] == "DATE9"
    assert list(frame["USUBJID"]) == ["S-1", "S-2"]
    assert frame["AVAL"][0] == 12 and frame["AVAL"].isna()[1]
    assert frame["ADT"][0] == date(2024, 2, 29) and frame["ADT"].isna()[1]


def test_no_row_still_writes_every_variable(tmp_path: Path) -> None:
    frame, meta = pyreadstat.read_xport(str(write_xpt(DEMO, [], tmp_path)))
    assert list(frame.columns) == ["USUBJID", "AVAL", "ADT"] and meta.number_rows == 0


@pytest.mark.parametrize("text", ["Zoë Ångström", "→ 肝細胞癌", "back\\slash", "quote \" ' <a>",
                                  "plain"])
def test_text_is_carried_as_ascii_and_decodes_back(tmp_path: Path, text: str) -> None:
    path = write_xpt(DEMO, [{"USUBJID": text}], tmp_path)
    raw = path.read_bytes()
    frame, _ = pyreadstat.read_xport(str(path))
    carried = frame["USUBJID"][0]
    assert carried == ascii_text(text)
    assert carried.isascii() and carried.encode() in raw
    assert codecs.decode(carried, "unicode_escape") == text


def test_a_character_value_over_200_bytes_is_refused(tmp_path: Path) -> None:
    write_xpt(DEMO, [{"USUBJID": "x" * 200}], tmp_path)
    with pytest.raises(ValueError, match="DEMO.USUBJID row 2: 201 bytes"):
        write_xpt(DEMO, [{"USUBJID": "x"}, {"USUBJID": "x" * 201}], tmp_path)
    # 100 characters, each escaped to four: over the limit once carried as ASCII.
    with pytest.raises(ValueError, match="400 bytes"):
        write_xpt(DEMO, [{"USUBJID": "é" * 100}], tmp_path)


@pytest.mark.parametrize("dataset, problem", [
    (Dataset("DEMO", "x", (Column("TOOLONGNM", "x"),)), "DEMO.TOOLONGNM"),
    (Dataset("DEMO", "x", (Column("lower", "x"),)), "DEMO.lower"),
    (Dataset("DEMO", "x", (Column("AVAL", "x" * 41),)), "label"),
    (Dataset("DEMO", "x", (Column("AVAL", "Dur\u00e9e"),)), "label"),
    (Dataset("DATASET99", "x", (Column("AVAL", "x"),)), "dataset 'DATASET99'"),
    (Dataset("DEMO", "x" * 41, (Column("AVAL", "x"),)), "dataset DEMO"),
    (Dataset("DEMO", "x", (Column("AVAL", "x"), Column("AVAL", "y"))), "declared twice"),
])
def test_names_and_labels_beyond_version_5_are_refused(tmp_path: Path, dataset: Dataset,
                                                       problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        write_xpt(dataset, [], tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("row, problem", [
    ({"NOTHERE": "x"}, "not declared: NOTHERE"),
    ({"AVAL": "12"}, "not a number"),
    ({"AVAL": True}, "not a number"),
    ({"AVAL": float("nan")}, "not a finite number"),
    ({"ADT": "2024-01-01"}, "not a date"),
    ({"USUBJID": 7}, "not text"),
])
def test_a_value_of_the_wrong_kind_is_refused(tmp_path: Path, row: dict[str, object],
                                              problem: str) -> None:
    with pytest.raises((ValueError, TypeError), match=problem):
        write_xpt(DEMO, [row], tmp_path)  # type: ignore[list-item]


def test_the_headers_carry_the_given_time_so_the_same_rows_give_the_same_bytes(
        tmp_path: Path) -> None:
    stamp = datetime(2026, 7, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    rows: list[dict[str, Value]] = [{"USUBJID": "S-1", "AVAL": 1.5, "ADT": date(2026, 6, 30)}]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_xpt(DEMO, rows, tmp_path / "a", stamp)
    second = write_xpt(DEMO, rows, tmp_path / "b", stamp)
    assert first.read_bytes() == second.read_bytes()
    _, meta = pyreadstat.read_xport(str(first))
    assert meta.creation_time == meta.modification_time == datetime(2026, 7, 1, 7, 30, 5)
    assert first.read_bytes().count(b"01JUL26:07:30:05") == 4  # library and member, twice
    unstamped = write_xpt(DEMO, rows, tmp_path)
    assert datetime.now(UTC).strftime("%y").encode() in unstamped.read_bytes()[144:160]
