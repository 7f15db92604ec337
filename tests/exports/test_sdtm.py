"""The SDTM export of the seeded trial, read back from its XPT files and held against what the
ledger itself says at the same cutoff: the API's casebooks (services/api/casebook_view.py),
its endpoints (services/study_outcomes.py) and the effective entries. On both stores."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from domain.protocol import CRITERIA
from services.api.casebook_view import casebook
from services.application import TrialLedger
from services.exports.scope import ExportScope
from services.exports.sdtm import write_sdtm
from services.study_outcomes import endpoints, study_outcomes

CUTOFF = date(2025, 6, 30)
EARLY = date(2024, 9, 30)
OUTCOMES = {None: "NOT RECOVERED/NOT RESOLVED", "not_recovered": "NOT RECOVERED/NOT RESOLVED",
            "recovered": "RECOVERED/RESOLVED", "fatal": "FATAL",
            "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE"}


def export(ledger: TrialLedger, directory: Path, **scope: Any) -> dict[str, pd.DataFrame]:
    """Every dataset the export wrote, read back with pyreadstat, by dataset name."""
    paths = write_sdtm(ledger, directory, scope=ExportScope(created_at=datetime.now(UTC),
                                                            **scope))
    frames = {}
    for path in paths:
        if path.suffix == ".xpt":
            frame, meta = pyreadstat.read_xport(str(path))
            name = str(meta.table_name)
            assert path.name == f"{name.lower()}.xpt"
            frames[name] = frame
    return frames


def casebooks(ledger: TrialLedger, cutoff: date, as_of: str | None = None
              ) -> dict[str, dict[str, Any]]:
    """The API's casebook at `cutoff` of everyone enrolled by then."""
    books = {}
    for pid, _ in ledger.participant_ids(as_of=as_of):
        book = casebook(ledger.participant(pid, as_of=as_of), cutoff=cutoff)
        if date.fromisoformat(book["enrollment"]["enrolled_on"]) <= cutoff:
            books[pid] = book
    return books


def of(frames: dict[str, pd.DataFrame], name: str, pid: str) -> pd.DataFrame:
    """The records of dataset `name` for participant `pid` (SUBJID)."""
    dm = frames["DM"]
    usubjid = dm.loc[dm.SUBJID == pid, "USUBJID"].item()
    frame = frames.get(name, pd.DataFrame(columns=["USUBJID"]))
    return frame[frame.USUBJID == usubjid]


def qualifier(frames: dict[str, pd.DataFrame], domain: str, pid: str, seq: float,
              qnam: str) -> str | None:
    supp = of(frames, f"SUPP{domain}", pid)
    parent = str(int(seq)) if seq else ""
    found = supp[(supp.IDVARVAL == parent) & (supp.QNAM == qnam)]
    return None if found.empty else str(found.QVAL.item())


def assert_responses(frames: dict[str, pd.DataFrame], books: dict[str, dict[str, Any]]) -> None:
    """RS holds each casebook's time-point responses and best overall responses."""
    for pid, book in books.items():
        rs = of(frames, "RS", pid)
        got = {(r.RSCAT, r.RSDTC, r.RSTESTCD): r.RSORRES for r in rs.itertuples()
               if r.RSTESTCD != "BESTRESP"}
        expected: dict[tuple[str, str, str], str] = {}
        for row in book["assessments"]:
            if row["role"] == "follow_up":
                key = (row["criterion"], row["occurred_on"])
                expected |= {(*key, "OVRLRESP"): row["response"],
                             (*key, "TRGRESP"): row["target"],
                             (*key, "NTRGRESP"): row["non_target"],
                             (*key, "NEWLPROG"): "Y" if row["new_lesion"] else "N"}
        assert got == expected, pid
        best = {(r.RSCAT, r.RSSCAT): r.RSORRES for r in rs.itertuples()
                if r.RSTESTCD == "BESTRESP"}
        if book["treatment_start_on"] is None:
            assert best == {}
        else:
            assert best == {(c, kind.upper()): book["best_overall_response"][c][kind]
                            for c in CRITERIA for kind in ("confirmed", "unconfirmed")}


def test_each_domain_holds_the_effective_casebook_at_the_cutoff(
        seeded: TrialLedger, tmp_path: Path) -> None:
    frames = export(seeded, tmp_path, cutoff=CUTOFF)
    books = casebooks(seeded, CUTOFF)
    dm = frames["DM"]
    assert sorted(dm.SUBJID) == sorted(books) and dm.USUBJID.is_unique
    for pid, book in books.items():
        subject = dm[dm.SUBJID == pid].iloc[0]
        enrollment = book["enrollment"]
        assert (subject.SITEID, subject.SEX, subject.RFICDTC, subject.BRTHDTC) == (
            book["site_id"], enrollment["sex"], enrollment["consented_on"],
            str(enrollment["birth_year"]))
        assert subject.RFSTDTC == (book["treatment_start_on"] or "")
        afp = qualifier(frames, "DM", pid, 0, "AFP")
        assert afp is not None and float(afp) == enrollment["afp_ng_ml"]
        assert (subject.DTHDTC, subject.DTHFL) == (
            (book["died_on"], "Y") if book["died_on"] else ("", ""))

        ex = of(frames, "EX", pid)
        doses = [d for drug in book["doses"].values() for d in drug]
        assert sorted(zip(ex.EXTRT, ex.EXSTDTC, ex.EXDOSE, ex.EXENDTC, strict=True)) == sorted(
            (d["drug"].upper(), d["occurred_on"], d["dose_mg"],
             min(d.get("end_on") or d["occurred_on"], CUTOFF.isoformat())) for d in doses)

        pr = of(frames, "PR", pid)
        tace = pr[pr.PRCAT == "STUDY TREATMENT"]
        assert sorted(zip(tace.PRSTDTC, tace.PRDOSE, tace.PRSCAT, strict=True)) == sorted(
            (t["occurred_on"], t["agent_dose_mg"], t["technique"])
            for t in book["tace_sessions"])
        for row in tace.itertuples():
            agents = {t["agent"] for t in book["tace_sessions"]
                      if t["occurred_on"] == row.PRSTDTC}
            assert qualifier(frames, "PR", pid, row.PRSEQ, "PRAGENT") in agents
        later = len(of(frames, "CM", pid)) + int((pr.PRCAT != "STUDY TREATMENT").sum())
        assert later == len(book["anticancer_therapies"])

        ae = of(frames, "AE", pid)
        events = {e["ae_id"]: e for e in book["adverse_events"]}
        assert sorted(ae.AESPID) == sorted(events)
        ever_serious = _ever_serious(seeded, pid, CUTOFF)
        for row in ae.itertuples():
            event = events[row.AESPID]
            ended = event["outcome"] not in (None, "not_recovered")
            assert (row.AETERM, row.AESTDTC, row.AETOXGR, row.AEOUT, row.AEENDTC) == (
                event["term"], event["onset_on"], str(event["worst_grade"]),
                OUTCOMES[event["outcome"]], event["resolved_on"] if ended else "")
            assert row.AESER == ("Y" if ever_serious[row.AESPID] else "N")
            assert row.AEREL == ("RELATED" if event["related_to"] else "NOT RELATED")
            for qnam, part in (("AERELCAM", "camrelizumab"), ("AERELAPA", "apatinib"),
                               ("AERELTAC", "TACE")):
                assert qualifier(frames, "AE", pid, row.AESEQ, qnam) == (
                    "RELATED" if part in event["related_to"] else "NOT RELATED")

        ds = of(frames, "DS", pid)
        assert Counter(ds.DSDECOD)["INFORMED CONSENT OBTAINED"] == 1
        assert list(ds[ds.DSDECOD == "DEATH"].DSSTDTC) == (
            [book["died_on"]] if book["died_on"] else [])
        stopped = [m for m in book["dose_modifications"] if m["action"] == "discontinued"]
        assert sorted(zip(ds[ds.DSSCAT != ""].DSSCAT, ds[ds.DSSCAT != ""].DSSTDTC,
                          strict=True)) == sorted(
            (f"{m['drug'].upper()} TREATMENT", m["occurred_on"]) for m in stopped)

        ss = of(frames, "SS", pid)
        contacts = [e.occurred_on.isoformat() for e in _effective(seeded, pid, CUTOFF)
                    if e.type == "FollowUpContact"]
        assert sorted(ss[ss.SSORRES == "ALIVE"].SSDTC) == sorted(contacts)
        assert list(ss[ss.SSORRES == "DEAD"].SSDTC) == (
            [book["died_on"]] if book["died_on"] else [])

    for name, frame in frames.items():
        keys = ["USUBJID", f"{name}SEQ"] if f"{name}SEQ" in frame else ["USUBJID"]
        if name.startswith("SUPP"):
            keys = ["RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"]
        assert not frame.duplicated(keys).any(), name
        assert set(frame.USUBJID) <= set(dm.USUBJID), name
    voided = [e for pid in books for e in seeded.participant(pid).entries.values()
              if e.voided_by is not None and e.type == "AdverseEventReported"]
    assert voided, "the seeded trial voids an adverse event"
    for entry in voided:
        pid = next(p for p in books if entry.event_id in seeded.participant(p).entries)
        assert entry.data["ae_id"] not in set(of(frames, "AE", pid).AESPID)


def test_responses_are_the_casebooks_and_add_up_to_the_endpoints(
        seeded: TrialLedger, tmp_path: Path) -> None:
    frames = export(seeded, tmp_path, cutoff=CUTOFF)
    books = casebooks(seeded, CUTOFF)
    assert_responses(frames, books)
    rs = frames["RS"]
    assert set(rs.RSCAT) == set(CRITERIA)
    assert any(book["best_overall_response"]["RECIST 1.1"]["confirmed"]
               != book["best_overall_response"]["mRECIST"]["confirmed"]
               for book in books.values()), "the criteria disagree somewhere"
    report_time = datetime.now(UTC)
    outcomes = study_outcomes(seeded, seeded.store.engine, None, None)
    for criterion in CRITERIA:
        report = endpoints(outcomes, criterion, CUTOFF, report_time)
        confirmed = Counter(rs[(rs.RSTESTCD == "BESTRESP") & (rs.RSCAT == criterion)
                               & (rs.RSSCAT == "CONFIRMED")].RSORRES)
        for response in ("CR", "PR", "SD"):  # only the evaluable can reach these
            assert confirmed[response] == report["best_overall_response"][response]
        assert confirmed["CR"] + confirmed["PR"] == report["orr"]["responders"]
        assert sum(confirmed.values()) == report["population"]["treated"]

    tr, tu = frames["TR"], frames["TU"]
    for pid, book in books.items():
        sums = of(frames, "TR", pid)
        sums = sums[sums.TRTESTCD == "SUMDIAM"]
        assert sorted(zip(sums.TRCAT, sums.TRDTC, sums.TRSTRESN, strict=True)) == sorted(
            (row["criterion"], row["occurred_on"], row["sum_mm"])
            for row in book["assessments"] if row["sum_mm"] is not None)
        measured = of(frames, "TR", pid)
        measured = measured[measured.TRGRPID == "TARGET"]
        expected = [(criterion, scan["occurred_on"], target["lesion_id"])
                    for scan in book["tumor_assessments"]
                    for criterion, read in scan["reads"].items() for target in read["targets"]]
        assert sorted(zip(measured.TRCAT, measured.TRDTC, measured.TRLNKID, strict=True)) == (
            sorted(expected))
        lesions = {(criterion, lesion["lesion_id"])
                   for scan in book["tumor_assessments"]
                   for criterion, read in scan["reads"].items()
                   for key in ("targets", "non_targets", "new_lesions") for lesion in read[key]}
        found = of(frames, "TU", pid)
        assert sorted(zip(found.TUCAT, found.TULNKID, strict=True)) == sorted(lesions)
    diameters = tr[tr.TRTESTCD.isin(["LDIAM", "SAXIS"]) & (tr.TRSTAT == "")]
    assert (diameters.TRSTRESN >= 0).all() and (diameters.TRSTRESU == "mm").all()
    too_small = diameters.TRORRES == "TOO SMALL TO MEASURE"
    assert too_small.any() and (diameters[too_small].TRSTRESN == 5).all()
    sized = diameters[~too_small]
    assert (sized.TRORRES.astype(float) == sized.TRSTRESN).all()
    assert set(tu.TUORRES) <= {"TARGET", "NON-TARGET", "NEW"}


def test_a_cutoff_leaves_out_what_came_after_it(seeded: TrialLedger, tmp_path: Path) -> None:
    early = export(seeded, tmp_path / "early", cutoff=EARLY)
    full = export(seeded, tmp_path / "full", cutoff=date(2026, 6, 30))
    books = casebooks(seeded, EARLY)
    enrolled_later = [pid for pid, _ in seeded.participant_ids()
                      if seeded.participant(pid).enrollment.occurred_on > EARLY]
    assert enrolled_later, "the seeded trial enrols after the early cutoff"
    assert sorted(early["DM"].SUBJID) == sorted(books)
    assert not set(enrolled_later) & set(early["DM"].SUBJID)
    assert set(enrolled_later) <= set(full["DM"].SUBJID)
    for name, frame in early.items():
        for column in frame.columns:
            if column.endswith("DTC"):
                dated = frame[column][frame[column] != ""]
                assert (dated <= EARLY.isoformat()).all(), (name, column)
    assert_responses(early, books)
    ongoing = early["AE"][early["AE"].AEENRTPT == "ONGOING"]
    assert (ongoing.AEENTPT == EARLY.isoformat()).all()
    assert (ongoing.AEOUT == "NOT RECOVERED/NOT RESOLVED").all()
    resolved_later = full["AE"].merge(ongoing, on=["USUBJID", "AESPID"], suffixes=("", "_e"))
    assert (resolved_later.AEENDTC > EARLY.isoformat()).any()
    for name in ("EX", "PR", "AE", "TR", "RS"):
        assert len(early[name]) < len(full[name]), name


def test_sites_and_one_participant_narrow_the_export(seeded: TrialLedger,
                                                     tmp_path: Path) -> None:
    sites = ("S02", "S03")
    frames = export(seeded, tmp_path / "sites", cutoff=CUTOFF, sites=sites)
    books = {pid: book for pid, book in casebooks(seeded, CUTOFF).items()
             if book["site_id"] in sites}
    assert sorted(frames["DM"].SUBJID) == sorted(books)
    assert set(frames["DM"].SITEID) == set(sites)
    for name, frame in frames.items():
        assert set(frame.USUBJID) <= set(frames["DM"].USUBJID), name
    assert len(frames["EX"]) == sum(len(d) for b in books.values() for d in b["doses"].values())
    one = export(seeded, tmp_path / "one", cutoff=CUTOFF, participant_id="HCC-01-003")
    assert list(one["DM"].SUBJID) == ["HCC-01-003"]
    assert all(set(frame.USUBJID) == set(one["DM"].USUBJID) for frame in one.values())
    nobody = export(seeded, tmp_path / "nobody", cutoff=CUTOFF, sites=("S01",),
                    participant_id="HCC-02-001")
    assert nobody == {}


def _effective(ledger: TrialLedger, pid: str, cutoff: date) -> list[Any]:
    return [e for e in ledger.participant(pid).effective_entries() if e.occurred_on <= cutoff]


def _ever_serious(ledger: TrialLedger, pid: str, cutoff: date) -> dict[str, bool]:
    """docs/rules.md section 18: an AE is serious if its report or an update by D said so."""
    serious: dict[str, bool] = {}
    for entry in _effective(ledger, pid, cutoff):
        if entry.type in ("AdverseEventReported", "AdverseEventUpdated"):
            ae_id = entry.data["ae_id"]
            serious[ae_id] = serious.get(ae_id, False) or bool(entry.data.get("serious"))
    return serious
