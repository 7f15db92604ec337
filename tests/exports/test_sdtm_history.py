"""The SDTM export of a participant whose record was corrected, voided and written with hostile
text: values as the ledger held them at the recorded time asked for, voided entries absent, and
any stored text carried (as printable ASCII by the documented rule), never dropped. On both
stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from domain.events import (
    CATALOGUE,
    AdverseEventReportedData,
    ParticipantWithdrewData,
    TACEPerformedData,
    TumorAssessedData,
)
from domain.events import Payload as EventPayload
from domain.response.reads import Read, TargetLesion
from infra.ledger.chain import format_recorded_at, parse_recorded_at
from services.application import Actor, Submission, TrialLedger
from services.exports.scope import ExportScope
from services.exports.sdtm import write_sdtm
from services.exports.xpt import xpt_decode
from services.records import RecordedEvent
from tests import story
from tests.exports.test_sdtm import casebooks, export, of

PID = "HCC-01-001"
TODAY = date(2026, 3, 5)
CUTOFF = date(2026, 3, 31)
ACTOR = Actor("s01.coordinator", "site_coordinator", "Coordinator", ("S01",))
HOSTILE_TERM = ('Nausea \U0001f922 "quoted" <b>&amp;</b> & caf\u00e9 \u65e5\u672c '
                '\u202eevil\x00end\ttab\nline \\u00e9 C:\\path ')
LONG_TERM = " ".join(["\U0001f48a"] * 60)
MOMENT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def record(ledger: TrialLedger, body: dict[str, Any], pid: str = PID) -> RecordedEvent:
    payload = CATALOGUE[body["type"]].payload.model_validate(body["data"])
    return record_payload(ledger, body["type"], body["occurred_on"], payload,
                          body.get("reason"), pid)


def record_payload(ledger: TrialLedger, type_: str, on: str, payload: EventPayload,
                   reason: str | None = None, pid: str = PID) -> RecordedEvent:
    """As the application layer records it (an older release or a script could have stored
    text today's input checks refuse)."""
    recorded, _ = ledger.record_participant_event(
        pid, Submission(type_, date.fromisoformat(on), payload, reason), ACTOR, today=TODAY)
    return recorded


def just_before(event: RecordedEvent) -> datetime:
    return parse_recorded_at(event.recorded_at) - timedelta(microseconds=1)


def test_as_of_gives_the_values_then_and_voided_entries_are_absent(
        ledger: TrialLedger, tmp_path: Path) -> None:
    record(ledger, story.enrollment())
    record(ledger, story.scan("2026-01-11", baseline=True, recist_mm=[40, 30],
                              mrecist_mm=[35, 25]))
    record(ledger, story.tace("2026-01-13"))
    dose = record(ledger, story.camrelizumab("2026-01-14", dose_mg=20))
    record(ledger, story.apatinib("2026-01-15", "2026-02-10"))
    grade = record(ledger, story.adverse_event("AE-01", "2026-01-20", grade=3))
    wrong = record(ledger, story.adverse_event("AE-02", "2026-01-21", term="Diarrhea"))
    record(ledger, story.scan("2026-02-25", baseline=False, recist_mm=[25, 18],
                              mrecist_mm=[10, 5]))
    fixed_dose = record(ledger, story.correction(
        dose.event_id, TODAY.isoformat(),
        story.camrelizumab("2026-01-14", dose_mg=200)["data"]))
    record(ledger, story.correction(grade.event_id, TODAY.isoformat(),
                                    story.adverse_event("AE-01", "2026-01-20", grade=2)["data"]))
    voided = record(ledger, story.void(wrong.event_id, TODAY.isoformat()))

    moments = {"before the corrections": just_before(fixed_dose),
               "before the void": just_before(voided), "now": None}
    found = {}
    for when, as_of in moments.items():
        frames = export(ledger, tmp_path / when.replace(" ", "-"), cutoff=CUTOFF, as_of=as_of)
        as_of_text = None if as_of is None else format_recorded_at(as_of)
        (book,) = casebooks(ledger, CUTOFF, as_of=as_of_text).values()
        ae = of(frames, "AE", PID)
        ex = of(frames, "EX", PID)
        found[when] = (
            float(ex[ex.EXTRT == "CAMRELIZUMAB"].EXDOSE.item()),
            dict(zip(ae.AESPID, ae.AETOXGR, strict=True)),
        )
        assert sorted(ae.AESPID) == sorted(e["ae_id"] for e in book["adverse_events"]), when
        assert sorted(ex.EXDOSE) == sorted(d["dose_mg"] for drug in book["doses"].values()
                                           for d in drug), when
        rs = of(frames, "RS", PID)
        overall = rs[rs.RSTESTCD == "OVRLRESP"]
        assert sorted(zip(overall.RSCAT, overall.RSORRES, strict=True)) == sorted(
            (row["criterion"], row["response"]) for row in book["assessments"]
            if row["role"] == "follow_up")
    assert found == {
        "before the corrections": (20.0, {"AE-01": "3", "AE-02": "2"}),
        "before the void": (200.0, {"AE-01": "2", "AE-02": "2"}),
        "now": (200.0, {"AE-01": "2"}),
    }


def record_hostile(ledger: TrialLedger) -> None:
    """A participant whose stored text is hostile to every format the export writes."""
    record(ledger, story.enrollment())
    target = TargetLesion.model_construct(lesion_id="T1", organ="foie \u2622 <liver>",
                                          nodal=False, diameter_mm=40.0, too_small=False)
    reads = {criterion: Read.model_construct(targets=[target], non_targets=[], new_lesions=[])
             for criterion in ("RECIST 1.1", "mRECIST")}
    record_payload(ledger, "TumorAssessed", "2026-01-11", TumorAssessedData.model_construct(
        modality="CT", baseline=True, reader="Dr. \u00d8yvind \U0001fa7b", reads=reads))
    record_payload(ledger, "TACEPerformed", "2026-01-13", TACEPerformedData.model_construct(
        technique="cTACE", agent="\u00e9pirubicine ' <x> & \"y\"", agent_dose_mg=50.0,
        lipiodol_ml=10.0, embolic_agent=None))
    for ae_id, term in (("AE<&>\u00e9", HOSTILE_TERM), ("AE-02", LONG_TERM)):
        record_payload(ledger, "AdverseEventReported", "2026-01-20",
                       AdverseEventReportedData.model_construct(
                           ae_id=ae_id, term=term, grade=2, serious=False, related_to=["TACE"],
                           immune_related=False))
    record_payload(ledger, "ParticipantWithdrew", "2026-02-01",
                   ParticipantWithdrewData.model_construct(
                       reason="d\u00e9m\u00e9nag\u00e9 \u2192 abroad",
                       follow_up_allowed=True))


def decoded(frame: pd.DataFrame, column: str) -> set[str]:
    return {xpt_decode(text) for text in frame[column]}


def test_hostile_text_is_carried_as_ascii_and_no_record_is_dropped(
        ledger: TrialLedger, tmp_path: Path) -> None:
    record_hostile(ledger)
    frames = export(ledger, tmp_path, cutoff=CUTOFF)
    for path in tmp_path.glob("*.xpt"):
        read = pd.read_sas(path, format="xport", encoding="ascii")  # every value is ASCII
        for column in read.columns[read.dtypes == object]:
            for text in read[column]:
                xpt_decode(text)  # and written by the one escaping rule
    ae = of(frames, "AE", PID)
    assert len(ae) == 2
    hostile = ae[ae.AESPID == "AE<&>\\u00E9"].iloc[0]
    assert xpt_decode(hostile.AETERM) == xpt_decode(hostile.AEDECOD) == HOSTILE_TERM
    long = ae[ae.AESPID == "AE-02"].iloc[0]
    supp = of(frames, "SUPPAE", PID)
    pieces = supp[supp.IDVARVAL == str(int(long.AESEQ))].set_index("QNAM").QVAL
    assert len(long.AETERM) <= 200
    for name in ("AETERM", "AEDECOD"):
        rest = [pieces[f"{name}{n}"] for n in range(1, 9) if f"{name}{n}" in pieces]
        assert len(rest) == 3 and all(len(text) <= 200 for text in rest)
        assert "".join(xpt_decode(text) for text in [long[name], *rest]) == LONG_TERM
    assert set(supp[supp.QNAM == "AETERM1"].QLABEL) == {"Reported Term for the Adverse Event 1"}
    pr = of(frames, "SUPPPR", PID)
    assert decoded(pr[pr.QNAM == "PRAGENT"], "QVAL") == {"\u00e9pirubicine ' <x> & \"y\""}
    tu = of(frames, "TU", PID)
    assert decoded(tu, "TULOC") == {"foie \u2622 <liver>"}
    assert decoded(tu, "TUEVAL") == {"Dr. \u00d8yvind \U0001fa7b"}
    ds = of(frames, "DS", PID)
    withdrawal = ds[ds.DSDECOD == "WITHDRAWAL BY SUBJECT"]
    assert decoded(withdrawal, "DSTERM") == {"d\u00e9m\u00e9nag\u00e9 \u2192 abroad"}
    assert list(of(frames, "SUPPDS", PID).QVAL) == ["Y"]
    schema = etree.XMLSchema(etree.parse(str(
        files("odmlib").joinpath("schemas/define/2.1/define2-1-0.xsd"))))
    assert schema.validate(etree.parse(str(tmp_path / "define.xml"))), schema.error_log
    assert datetime.now(UTC).date() >= CUTOFF


def test_the_same_export_made_twice_gives_the_same_bytes(
        ledger: TrialLedger, tmp_path: Path) -> None:
    """The XPT headers carry `scope.created_at`, not the clock, so every file of two exports of
    the same scope is byte-identical; a later creation time changes the headers only."""
    record_hostile(ledger)
    scope = ExportScope(created_at=MOMENT, cutoff=CUTOFF)
    first = write_sdtm(ledger, tmp_path / "first", scope=scope)
    second = write_sdtm(ledger, tmp_path / "second", scope=scope)
    assert [p.name for p in first] == [p.name for p in second]
    assert {p.name for p in first} >= {"dm.xpt", "ae.xpt", "suppae.xpt", "define.xml"}
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes(), one.name
    later = write_sdtm(ledger, tmp_path / "later", scope=ExportScope(
        created_at=MOMENT + timedelta(hours=1), cutoff=CUTOFF))
    dm, later_dm = first[0].read_bytes(), later[0].read_bytes()
    assert dm != later_dm and dm.replace(b"05MAR26:12:00:00", b"05MAR26:13:00:00") == later_dm
