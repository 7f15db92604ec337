"""The XPT v5 writer: what it writes reads back the same, its limits are enforced, and text the
ledger may hold becomes printable ASCII by the documented rule (docs/exports/sdtm.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from services.exports.xpt import Column, XptError, split_text, write_xpt, xpt_text

COLUMNS = (
    Column("USUBJID", "Unique Subject Identifier"),
    Column("AETERM", "Reported Term for the Adverse Event"),
    Column("AESTDTC", "Start Date/Time of Adverse Event", "date"),
    Column("AESEQ", "Sequence Number", "integer"),
    Column("EXDOSE", "Dose", "float"),
)


@pytest.mark.parametrize(("stored", "written"), [
    ("Nausea", "Nausea"),
    ("caf\u00e9 na\u00efve \u00c5ngstr\u00f6m", "cafe naive Angstrom"),
    ("cafe\u0301", "cafe"),
    ("\u201cquoted\u201d \u2013 it\u2019s \u2264 5\u00a0mm", '"quoted" - it\'s <= 5 mm'),
    ("\ufb01ne \uff21", "fine A"),
    ("Nausea \U0001f922", "Nausea [U+1F922]"),
    ("\u65e5\u672c", "[U+65E5][U+672C]"),
    ("a\x00b\tc\nd\x85", "a[U+0000]b c d[U+0085]"),
    ("\u202eevil", "[U+202E]evil"),
    ("lone \ud800", "lone [U+D800]"),
    ('<b> & "x" \'y\' \\', '<b> & "x" \'y\' \\'),
])
def test_text_becomes_printable_ascii_by_the_documented_rule(stored: str, written: str) -> None:
    assert xpt_text(stored) == written
    assert xpt_text(written) == written


def test_split_text_cuts_long_text_before_a_space_and_loses_nothing() -> None:
    words = " ".join(f"word{i}" for i in range(120))
    pieces = split_text(words, 200)
    assert "".join(pieces) == words
    assert all(len(piece) <= 200 and not piece.endswith(" ") for piece in pieces)
    assert all(piece.startswith(" ") for piece in pieces[1:])
    solid = "x" * 450
    assert split_text(solid, 200) == ["x" * 200, "x" * 200, "x" * 50]
    assert split_text("short") == ["short"]


def test_a_dataset_reads_back_with_its_names_labels_and_lengths(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"USUBJID": "S-001", "AETERM": "Fatigue", "AESTDTC": date(2026, 1, 5), "AESEQ": 1,
         "EXDOSE": 42.3},
        {"USUBJID": "S-002", "AETERM": "Nausea \U0001f922", "AESTDTC": None, "AESEQ": 2,
         "EXDOSE": None},
    ]
    written = write_xpt(tmp_path / "ae.xpt", "AE", "Adverse Events", COLUMNS, rows)
    frame, meta = pyreadstat.read_xport(str(tmp_path / "ae.xpt"))
    assert meta.table_name == "AE"
    assert list(frame.columns) == [c.name for c in COLUMNS]
    assert meta.column_labels == [c.label for c in COLUMNS]
    assert list(frame["AETERM"]) == ["Fatigue", "Nausea [U+1F922]"]
    assert list(frame["AESTDTC"]) == ["2026-01-05", ""]
    assert list(frame["AESEQ"]) == [1.0, 2.0]
    assert frame["EXDOSE"][0] == 42.3 and pd.isna(frame["EXDOSE"][1])
    assert written.rows == 2
    for column in COLUMNS:
        if not column.numeric:
            assert written.lengths[column.name] == meta.variable_storage_width[column.name]
    assert written.lengths["AESEQ"] == 1 and written.lengths["EXDOSE"] == 3
    assert written.decimals["EXDOSE"] == 1
    assert "\U0001f922".encode() not in (tmp_path / "ae.xpt").read_bytes()
    read = pd.read_sas(tmp_path / "ae.xpt", format="xport", encoding="ascii")
    assert list(read["AETERM"]) == ["Fatigue", "Nausea [U+1F922]"]


def test_an_empty_dataset_is_written_with_its_variables(tmp_path: Path) -> None:
    write_xpt(tmp_path / "ae.xpt", "AE", "Adverse Events", COLUMNS, [])
    frame, _ = pyreadstat.read_xport(str(tmp_path / "ae.xpt"))
    assert frame.empty and list(frame.columns) == [c.name for c in COLUMNS]


@pytest.mark.parametrize(("table", "label", "columns", "rows", "says"), [
    ("ADVERSEEV", "Adverse Events", COLUMNS, [], "dataset name"),
    ("AE", "A" * 41, COLUMNS, [], "label"),
    ("AE", "Adverse \u00e9v\u00e9nements", COLUMNS, [], "label"),
    ("AE", "Adverse Events", (Column("AETERMLONG", "Term"),), [], "variable name"),
    ("AE", "Adverse Events", (Column("AETERM", "T" * 41),), [], "label"),
    ("AE", "Adverse Events", (Column("AETERM", "Term"), Column("AETERM", "Again")), [],
     "twice"),
    ("AE", "Adverse Events", COLUMNS, [{"USUBJID": "S", "AEOUT": "FATAL"}], "undefined"),
    ("AE", "Adverse Events", COLUMNS, [{"AETERM": "x" * 201}], "200"),
    ("AE", "Adverse Events", COLUMNS, [{"AETERM": "\U0001f922" * 23}], "200"),
    ("AE", "Adverse Events", COLUMNS, [{"AESEQ": "1"}], "not a number"),
])
def test_what_xpt_v5_cannot_hold_is_refused_not_truncated(
        tmp_path: Path, table: str, label: str, columns: tuple[Column, ...],
        rows: list[dict[str, object]], says: str) -> None:
    with pytest.raises(XptError, match=says):
        write_xpt(tmp_path / "x.xpt", table, label, columns, rows)
    assert not (tmp_path / "x.xpt").exists()
