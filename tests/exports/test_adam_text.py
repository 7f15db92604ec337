"""Stored text in the ADaM files, on both stores: a participant whose enrolment holds hostile
text (emoji, accents, quotes, markup, NUL, a right-to-left override, CJK, backslashes, tab,
newline) is exported as printable ASCII that decodes back to the stored text exactly, by the
same rule as the SDTM files; a value over 200 bytes once escaped is refused, naming the
variable, and no file is written (docs/exports/adam.md, "Text in SAS transport files")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyreadstat
import pytest

from domain.events import ParticipantEnrolledData
from services.application import Actor, Submission, TrialLedger
from services.exports.adam import write_adam
from services.exports.scope import ExportScope
from services.exports.study import STUDY_ID
from services.exports.xpt import XptError, xpt_decode
from tests import story

PID = "HCC-01-001"
ACTOR = Actor("s01.coordinator", "site_coordinator", "Coordinator", ("S01",))
CUTOFF = date(2026, 3, 31)
MOMENT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
HOSTILE = ('HBV \U0001f922 "quoted" <b>&amp;</b> & caf\u00e9 \u65e5\u672c \u202eevil\x00end'
           '\ttab\nline \\u00e9 C:\\path ')


def enrol(ledger: TrialLedger, etiology: str) -> None:
    """An enrolment stored with `etiology` as an older release or a script could have stored
    it (today's input checks refuse such text)."""
    data = story.enrollment(etiology=etiology)["data"]
    data["consented_on"] = date.fromisoformat(data["consented_on"])
    ledger.record_participant_event(
        PID, Submission("ParticipantEnrolled", date(2026, 1, 10),
                        ParticipantEnrolledData.model_construct(**data), None),
        ACTOR, today=date(2026, 3, 5))


def test_hostile_text_is_carried_as_ascii_and_decodes_back(ledger: TrialLedger,
                                                           tmp_path: Path) -> None:
    enrol(ledger, HOSTILE)
    paths = write_adam(ledger, ledger.store.engine, tmp_path,
                       scope=ExportScope(created_at=MOMENT, cutoff=CUTOFF))
    frames = {}
    for path in paths:
        frame, meta = pyreadstat.read_xport(str(path))
        frames[path.stem] = frame
        texts = [name for name, kind in meta.readstat_variable_types.items() if kind == "string"]
        for column in texts:
            for text in frame[column]:
                assert text.isascii() and text.isprintable()
                xpt_decode(text)  # written by the one escaping rule
    (row,) = frames["adsl"].itertuples()
    assert row.ETIOLOGY != HOSTILE and xpt_decode(row.ETIOLOGY) == HOSTILE
    assert (row.STUDYID, row.USUBJID, row.SUBJID) == (STUDY_ID, f"{STUDY_ID}-{PID}", PID)


def test_a_value_over_200_bytes_once_escaped_is_refused(ledger: TrialLedger,
                                                        tmp_path: Path) -> None:
    enrol(ledger, "\u00e9" * 34)  # 204 bytes once escaped
    with pytest.raises(XptError, match=r"ADSL.ETIOLOGY row 1: 204 bytes"):
        write_adam(ledger, ledger.store.engine, tmp_path,
                   scope=ExportScope(created_at=MOMENT, cutoff=CUTOFF))
    assert not list(tmp_path.glob("*.xpt"))
