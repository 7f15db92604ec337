"""The one XPT v5 writer of the SDTM and ADaM exports: what it writes reads back the same, its
limits are refused rather than truncated, the header times are the export's own, and text the
ledger may hold is written as printable ASCII that decodes back to it exactly (docs/exports/
sdtm.md and adam.md, "Text in SAS transport files")."""

from __future__ import annotations

import codecs
import random
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from services.exports.xpt import (
    Column,
    XptError,
    split_text,
    write_xpt,
    xpt_decode,
    xpt_text,
)

COLUMNS = (
    Column("USUBJID", "Unique Subject Identifier"),
    Column("AETERM", "Reported Term for the Adverse Event"),
    Column("AESTDTC", "Start Date/Time of Adverse Event", "date"),
    Column("AESEQ", "Sequence Number", "integer"),
    Column("EXDOSE", "Dose", "float"),
    Column("ADT", "Analysis Date", "sasDate"),
)
MOMENT = datetime(2026, 7, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=2)))
HOSTILE = [
    "Nausea \U0001f922", "caf\u00e9 na\u00efve \u00c5ngstr\u00f6m", "cafe\u0301",
    "\u201cquoted\u201d \u2013 it\u2019s \u2264 5\u00a0mm", '<b> & "x" \'y\'', "a\x00b",
    "\u202eevil", "\u65e5\u672c\u8a9e \u809d\u7d30\u80de\u764c", "back\\slash \\u00e9 \\\\",
    "tab\there", "line\nbreak\r\n", "trailing  ", " leading", "  ", "\x7f\x85\u2028",
    "\U0010ffff\ufeff", "[U+1F922] is not an escape",
]


@pytest.mark.parametrize(("stored", "written"), [
    ("Nausea", "Nausea"),
    ("caf\u00e9", "caf\\u00E9"),
    ("cafe\u0301", "cafe\\u0301"),
    ("Nausea \U0001f922", "Nausea \\U0001F922"),
    ("a\x00b\tc\nd", "a\\u0000b\\u0009c\\u000Ad"),
    ("\u202eevil", "\\u202Eevil"),
    ('<b> & "x" \'y\' \\', '<b> & "x" \'y\' \\\\'),
    ("ends with a space ", "ends with a space\\u0020"),
])
def test_text_is_written_by_the_documented_rule(stored: str, written: str) -> None:
    assert xpt_text(stored) == written
    assert xpt_decode(written) == stored


@pytest.mark.parametrize("stored", HOSTILE)
def test_hostile_text_is_printable_ascii_and_decodes_back_exactly(stored: str) -> None:
    written = xpt_text(stored)
    assert written.isascii() and written.isprintable() and not written.endswith(" ")
    assert xpt_decode(written) == stored
    assert codecs.decode(written, "unicode_escape") == stored  # a standard decoder agrees


def test_any_code_point_round_trips() -> None:
    generator = random.Random(20261201)
    for _ in range(500):
        stored = "".join(chr(generator.randrange(0x110000)) for _ in range(generator.randrange(12)))
        assert xpt_decode(xpt_text(stored)) == stored


@pytest.mark.parametrize("written", ["a\\b", "trailing\\", "\\u12", "\\U0011FFFF", "caf\u00e9",
                                     "tab\t"])
def test_text_the_rule_cannot_have_written_is_refused_by_the_decoder(written: str) -> None:
    with pytest.raises(ValueError):
        xpt_decode(written)


def test_split_text_cuts_before_a_space_and_the_pieces_decode_back() -> None:
    words = " ".join(f"word{i}" for i in range(120))
    pieces = split_text(words, 200)
    assert "".join(pieces) == words
    assert all(len(piece) <= 200 and not piece.endswith(" ") for piece in pieces)
    assert all(piece.startswith(" ") for piece in pieces[1:])
    assert split_text("x" * 450, 200) == ["x" * 200, "x" * 200, "x" * 50]
    assert split_text("short") == ["short"]
    for stored in (" ".join(["\U0001f48a"] * 60), "\u00e9" * 90 + " " * 300 + "\\" * 150,
                   "".join(HOSTILE) * 8):
        pieces = split_text(stored)
        assert "".join(pieces) == stored and len(pieces) > 1
        written = [xpt_text(piece) for piece in pieces]
        assert all(len(text) <= 200 for text in written)
        assert "".join(xpt_decode(text) for text in written) == stored


def test_a_dataset_reads_back_with_its_names_labels_lengths_and_text(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"USUBJID": "S-001", "AETERM": "Fatigue", "AESTDTC": date(2026, 1, 5), "AESEQ": 1,
         "EXDOSE": 42.3, "ADT": date(2024, 2, 29)},
        {"USUBJID": "S-002", "AETERM": "Nausea \U0001f922", "AESTDTC": None, "AESEQ": 2,
         "EXDOSE": None, "ADT": None},
    ]
    rows += [{"USUBJID": f"S-{n:03d}", "AETERM": text} for n, text in enumerate(HOSTILE, 3)]
    written = write_xpt(tmp_path / "ae.xpt", "AE", "Adverse Events", COLUMNS, rows,
                        created_at=MOMENT)
    frame, meta = pyreadstat.read_xport(str(tmp_path / "ae.xpt"))
    assert meta.table_name == "AE"
    assert list(frame.columns) == [c.name for c in COLUMNS]
    assert meta.column_labels == [c.label for c in COLUMNS]
    # readers spell the SAS format with or without its closing dot (pyreadstat >= 1.3: "DATE9.")
    assert (meta.original_variable_types["ADT"] or "").rstrip(".") == "DATE9"
    assert [xpt_decode(text) for text in frame["AETERM"]] == [row["AETERM"] for row in rows]
    assert list(frame["AETERM"])[:2] == ["Fatigue", "Nausea \\U0001F922"]
    assert list(frame["AESTDTC"])[:2] == ["2026-01-05", ""]
    assert list(frame["AESEQ"])[:2] == [1.0, 2.0]
    assert frame["EXDOSE"][0] == 42.3 and pd.isna(frame["EXDOSE"][1])
    assert frame["ADT"][0] == date(2024, 2, 29) and pd.isna(frame["ADT"][1])
    assert written.rows == len(rows)
    for column in COLUMNS:
        if not column.numeric:
            assert written.lengths[column.name] == meta.variable_storage_width[column.name]
    assert written.lengths["AESEQ"] == 1 and written.lengths["EXDOSE"] == 3
    assert written.decimals["EXDOSE"] == 1
    assert "\U0001f922".encode() not in (tmp_path / "ae.xpt").read_bytes()
    read = pd.read_sas(tmp_path / "ae.xpt", format="xport", encoding="ascii")
    assert list(read["AETERM"])[:2] == ["Fatigue", "Nausea \\U0001F922"]


def test_an_empty_dataset_is_written_with_its_variables(tmp_path: Path) -> None:
    write_xpt(tmp_path / "ae.xpt", "AE", "Adverse Events", COLUMNS, [], created_at=MOMENT)
    frame, meta = pyreadstat.read_xport(str(tmp_path / "ae.xpt"))
    assert frame.empty and list(frame.columns) == [c.name for c in COLUMNS]
    assert meta.number_rows == 0


def test_the_headers_carry_created_at_so_the_same_rows_give_the_same_bytes(
        tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"USUBJID": "S-1", "EXDOSE": 1.5, "ADT": date(2026, 6, 30)}]
    first = write_xpt(tmp_path / "a.xpt", "AE", "Adverse Events", COLUMNS, rows,
                      created_at=MOMENT).path
    second = write_xpt(tmp_path / "b.xpt", "AE", "Adverse Events", COLUMNS, rows,
                       created_at=MOMENT.astimezone(UTC)).path
    assert first.read_bytes() == second.read_bytes()
    _, meta = pyreadstat.read_xport(str(first))
    assert meta.creation_time == meta.modification_time == datetime(2026, 7, 1, 7, 30, 5)
    assert first.read_bytes().count(b"01JUL26:07:30:05") == 4  # library and member, twice
    later = write_xpt(tmp_path / "c.xpt", "AE", "Adverse Events", COLUMNS, rows,
                      created_at=MOMENT + timedelta(days=1)).path
    assert later.read_bytes() != first.read_bytes()


@pytest.mark.parametrize(("table", "label", "columns", "rows", "says"), [
    ("ADVERSEEV", "Adverse Events", COLUMNS, [], "dataset name"),
    ("AE", "A" * 41, COLUMNS, [], "label"),
    ("AE", "Adverse \u00e9v\u00e9nements", COLUMNS, [], "label"),
    ("AE", "Adverse Events", (Column("AETERMLONG", "Term"),), [], "variable name"),
    ("AE", "Adverse Events", (Column("lower", "Term"),), [], "variable name"),
    ("AE", "Adverse Events", (Column("AETERM", "T" * 41),), [], "label"),
    ("AE", "Adverse Events", (Column("AETERM", "Dur\u00e9e"),), [], "label"),
    ("AE", "Adverse Events", (Column("AETERM", "Term"), Column("AETERM", "Again")), [],
     "twice"),
    ("AE", "Adverse Events", COLUMNS, [{"USUBJID": "S", "AEOUT": "FATAL"}], "undefined"),
    ("AE", "Adverse Events", COLUMNS, [{"AETERM": "x"}, {"AETERM": "x" * 201}],
     r"AE.AETERM row 2: 201 bytes"),
    ("AE", "Adverse Events", COLUMNS, [{"AETERM": "\U0001f922" * 21}], "210 bytes"),
    ("AE", "Adverse Events", COLUMNS, [{"AETERM": "\u00e9" * 100}], "600 bytes"),
    ("AE", "Adverse Events", COLUMNS, [{"AESEQ": "1"}], "not a number"),
    ("AE", "Adverse Events", COLUMNS, [{"AESEQ": True}], "not a number"),
    ("AE", "Adverse Events", COLUMNS, [{"EXDOSE": float("nan")}], "not a finite number"),
    ("AE", "Adverse Events", COLUMNS, [{"ADT": "2024-01-01"}], "not a date"),
    ("AE", "Adverse Events", COLUMNS, [{"USUBJID": 7}], "not text"),
])
def test_what_xpt_v5_cannot_hold_is_refused_not_truncated(
        tmp_path: Path, table: str, label: str, columns: tuple[Column, ...],
        rows: list[dict[str, object]], says: str) -> None:
    with pytest.raises(XptError, match=says):
        write_xpt(tmp_path / "x.xpt", table, label, columns, rows, created_at=MOMENT)
    assert not (tmp_path / "x.xpt").exists()
    write_xpt(tmp_path / "ok.xpt", "AE", "Adverse Events", COLUMNS, [{"AETERM": "x" * 200}],
              created_at=MOMENT)
