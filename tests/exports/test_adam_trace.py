"""ADTRACE, on both stores: every trace row names an event the ledger holds, at the position
the chain gives it; every derived date traces to the events whose clinical date it is; a
correction is traced with the entry it corrected; a back-dated PD traces to the later read
that dated it back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from domain.events import CATALOGUE
from infra.ledger.chain import parse_recorded_at
from services.application import Actor, Submission, TrialLedger
from services.exports.study import STUDY_ID
from services.records import RecordedEvent
from services.seed import DATA_CUTOFF
from tests import story
from tests.exports.test_adam import export

DATA_MANAGER = Actor("data.manager", "data_manager", "Demo Data Manager")
TREATMENT = {"DoseAdministered", "TACEPerformed"}


def sources(trace: pd.DataFrame, row: pd.Series, variable: str, *,
            corrections: bool = False) -> pd.DataFrame:
    """The trace rows of one derived row's variable (the entries themselves, or only the
    corrections of them)."""
    found = trace[(trace["TRACEID"] == row["TRACEID"]) & (trace["TRVAR"] == variable)]
    is_correction = found["SRCROLE"].str.startswith("correction of ")
    return found[is_correction if corrections else ~is_correction]


def test_every_trace_row_names_a_ledger_event_and_every_row_is_traced(
        seeded: TrialLedger, tmp_path: Path) -> None:
    datasets = export(seeded, tmp_path)
    trace = datasets.pop("ADTRACE")
    chain = {(row.stream_id, row.version): row for row in seeded.store.iter_chain()}
    for _, source in trace.iterrows():
        participant = seeded.participant(source["USUBJID"].removeprefix(f"{STUDY_ID}-"))
        entry = participant.entries[source["SRCEVID"]]
        placed = chain[(participant.id, entry.version)]
        assert len(source["SRCEVID"]) == 36
        assert (source["SRCTYPE"], source["SRCVER"], source["SRCDT"]) == (
            entry.type, entry.version, entry.occurred_on)
        assert (source["SRCPOS"], source["SRCRECTM"]) == (placed.position, placed.recorded_at)
    keys = {}
    for name, frame in datasets.items():
        for _, row in frame.iterrows():
            keys[row["TRACEID"]] = (name, row["USUBJID"], row.get("PARAMCD", ""),
                                    row.get("PARCAT1", ""), row.get("ASEQ"))
    assert set(trace["TRACEID"]) == set(keys)
    for _, source in trace.iterrows():
        name, usubjid, paramcd, parcat1, aseq = keys[source["TRACEID"]]
        assert (source["DATASET"], source["USUBJID"], source["PARAMCD"],
                source["PARCAT1"]) == (name, usubjid, paramcd, parcat1)
        assert (pd.isna(aseq) and pd.isna(source["ASEQ"])) or source["ASEQ"] == aseq
    traced = trace.groupby("TRACEID")["TRVAR"].agg(set)
    for _, row in datasets["ADSL"].iterrows():
        wanted = {"SITEID", "ENRLDT", "LSTALVDT"} | ({"TRTSDT", "TRTEDT"} if row["SAFFL"] == "Y"
                                                    else set())
        assert wanted | ({"DTHDT"} if row["DTHFL"] == "Y" else set()) <= traced[row["TRACEID"]]
    for _, row in datasets["ADRS"].iterrows():
        assert {"AVALC"} | (set() if pd.isna(row["ADT"]) else {"ADT"}) <= traced[row["TRACEID"]]
    for _, row in datasets["ADTTE"].iterrows():
        assert {"STARTDT", "ADT"} <= traced[row["TRACEID"]]


@pytest.mark.parametrize("cutoff", [date(2025, 3, 31), DATA_CUTOFF])
def test_derived_dates_trace_to_the_events_that_give_them(
        seeded: TrialLedger, tmp_path: Path, cutoff: date) -> None:
    datasets = export(seeded, tmp_path, cutoff)
    trace, adsl, adrs, adtte = (datasets[n] for n in ("ADTRACE", "ADSL", "ADRS", "ADTTE"))
    for _, row in adsl[adsl["SAFFL"] == "Y"].iterrows():
        first = sources(trace, row, "TRTSDT")
        assert len(first) and set(first["SRCTYPE"]) <= TREATMENT
        assert set(first["SRCDT"]) == {row["TRTSDT"]}
    for _, row in adsl[adsl["DTHFL"] == "Y"].iterrows():
        death = sources(trace, row, "DTHDT")
        assert list(zip(death["SRCTYPE"], death["SRCDT"], strict=True)) == [
            ("ParticipantDied", row["DTHDT"])]
    points = adrs[adrs["PARAMCD"] == "OVRLRESP"]
    read_of = {}
    for _, row in points.iterrows():
        read = sources(trace, row, "ADT")
        assert list(zip(read["SRCTYPE"], read["SRCDT"], strict=True)) == [
            ("TumorAssessed", row["ADT"])]
        event_id = read["SRCEVID"].iloc[0]
        entry = seeded.participant(row["SUBJID"]).entries[event_id]
        assert row["PARCAT1"] in entry.data["reads"] and not entry.data["baseline"]
        read_of[(row["USUBJID"], row["PARCAT1"], row["ASEQ"])] = event_id
    for _, row in adrs[adrs["PARAMCD"] == "BOR"].iterrows():
        same = points[(points["USUBJID"] == row["USUBJID"])
                      & (points["PARCAT1"] == row["PARCAT1"])]
        counted = {read_of[(row["USUBJID"], row["PARCAT1"], aseq)]
                   for aseq in same[same["ANL01FL"] == "Y"]["ASEQ"]}
        traced = sources(trace, row, "AVALC")
        assert set(traced[traced["SRCROLE"] == "read counted for BOR"]["SRCEVID"]) == counted
        if not pd.isna(row["ADT"]):
            dated = sources(trace, row, "ADT")
            assert len(dated) and set(dated["SRCDT"]) == {row["ADT"]}
            assert set(dated["SRCEVID"]) <= counted
    deaths = adsl.set_index("USUBJID")["DTHDT"]
    for _, row in adtte.iterrows():
        check_time_to_event(trace, adrs, row, deaths[row["USUBJID"]], read_of, cutoff)
    roles = set(trace["SRCROLE"])
    assert {"alive after the cutoff", "death after the cutoff"} & roles if cutoff < DATA_CUTOFF \
        else {"last known alive", "progression", "death", "last adequate assessment"} <= roles


def check_time_to_event(trace: pd.DataFrame, adrs: pd.DataFrame, row: pd.Series,
                        died_on: Any, read_of: dict[tuple[str, str, float], str],
                        cutoff: date) -> None:
    start = sources(trace, row, "STARTDT")
    assert len(start) and set(start["SRCDT"]) == {row["STARTDT"]}
    end = sources(trace, row, "ADT")
    assert len(end)
    if row["SRCDOM"] == "ADRS":  # the ADRS read at SRCSEQ gives ADT, and it is traced
        read = adrs[(adrs["USUBJID"] == row["USUBJID"]) & (adrs["ASEQ"] == row["SRCSEQ"])]
        assert list(read["PARAMCD"]) == ["OVRLRESP"] and read["ADT"].iloc[0] == row["ADT"]
        assert read["PARCAT1"].iloc[0] == row["PARCAT1"]
        assert read_of[(row["USUBJID"], row["PARCAT1"], row["SRCSEQ"])] in set(end["SRCEVID"])
        assert read["AVALC"].iloc[0] == ("PD" if row["CNSR"] == 0 else read["AVALC"].iloc[0])
        assert read["AVALC"].iloc[0] != "NE"
    if row["PARAMCD"] == "OS" and row["CNSR"] == 0:
        assert list(zip(end["SRCTYPE"], end["SRCDT"], strict=True)) == [
            ("ParticipantDied", row["ADT"])] and died_on == row["ADT"]
    elif row["PARAMCD"] == "OS":
        alive = end[end["SRCTYPE"] != "ParticipantDied"]
        if row["ADT"] < cutoff:
            assert len(alive) == len(end) and set(end["SRCDT"]) == {row["ADT"]}
        else:  # alive at the cutoff: an entry (or the death) after it shows so
            assert row["ADT"] == cutoff and (end["SRCDT"] >= cutoff).all()
    elif row["CNSR"] == 0:  # PFS or DOR event: the PD read or the death, on ADT
        main = end[end["SRCROLE"].isin(["progression", "death"])]
        assert len(main) and set(main["SRCDT"]) == {row["ADT"]}
        assert set(main["SRCTYPE"]) <= {"TumorAssessed", "ParticipantDied"}
        if row["EVNTDESC"] == "death":
            assert died_on == row["ADT"] and row["SRCVAR"] == "DTHDT"
    else:  # censored: at the origin, or at the last adequate read
        assert set(end["SRCDT"]) == {row["ADT"]}
        if row["ADT"] == row["STARTDT"]:
            assert set(end["SRCEVID"]) == set(start["SRCEVID"])
        else:
            assert set(end["SRCTYPE"]) == {"TumorAssessed"} and row["SRCDOM"] == "ADRS"


def post(ledger: TrialLedger, participant_id: str, body: dict[str, Any]) -> RecordedEvent:
    submission = Submission(body["type"], date.fromisoformat(body["occurred_on"]),
                            CATALOGUE[body["type"]].payload.model_validate(body["data"]),
                            body.get("reason"))
    recorded, _ = ledger.record_participant_event(participant_id, submission, DATA_MANAGER)
    return recorded


def correct(ledger: TrialLedger, participant_id: str, event_id: str, data: dict[str, Any],
            new_date: date | None = None) -> RecordedEvent:
    body: dict[str, Any] = {"corrects": event_id, "data": data}
    if new_date is not None:
        body["occurred_on"] = new_date.isoformat()
    return post(ledger, participant_id, {
        "type": "EntryCorrected", "occurred_on": datetime.now(UTC).date().isoformat(),
        "reason": "checked against the source document", "data": body})


def test_a_correction_is_traced_with_the_entry_it_corrected(
        seeded: TrialLedger, tmp_path: Path) -> None:
    before = export(seeded, tmp_path / "before")
    head = seeded.store.head()
    assert head is not None
    # A death moved one day earlier (still after every other entry of the participant).
    dead = None
    for pid, _ in seeded.participant_ids():
        participant = seeded.participant(pid)
        died_on = participant.died_on
        others = [e.occurred_on for e in participant.effective_entries()
                  if e.type != "ParticipantDied"]
        if died_on is not None and died_on <= DATA_CUTOFF and max(others) < died_on - \
                timedelta(days=1):
            dead = participant
            break
    assert dead is not None
    death = dead.entries_of("ParticipantDied")[0]
    new_day = death.occurred_on - timedelta(days=1)
    moved = correct(seeded, dead.id, death.event_id, dict(death.data), new_day)
    # The scan that gave a PFS event, corrected for its reader's name only.
    pfs = before["ADTTE"][(before["ADTTE"]["PARAMCD"] == "PFS")
                          & (before["ADTTE"]["EVNTDESC"] == "progression")].iloc[0]
    scan_id = sources(before["ADTRACE"], pfs, "ADT")["SRCEVID"].iloc[0]
    scan = seeded.participant(pfs["SUBJID"]).entries[scan_id]
    renamed = correct(seeded, pfs["SUBJID"], scan_id, {**scan.data, "reader": "Dr. Zoë Второй"})

    after = export(seeded, tmp_path / "after")
    trace, adsl, adtte = after["ADTRACE"], after["ADSL"].set_index("SUBJID"), after["ADTTE"]
    row = adsl.loc[dead.id]
    assert row["DTHDT"] == new_day
    os_row = adtte[(adtte["SUBJID"] == dead.id) & (adtte["PARAMCD"] == "OS")].iloc[0]
    assert os_row["ADT"] == new_day
    for derived in (row, os_row):
        variable = "DTHDT" if "DTHDT" in derived.index else "ADT"
        entry = sources(trace, derived, variable)
        fixes = sources(trace, derived, variable, corrections=True)
        assert (death.event_id, new_day) in set(zip(entry["SRCEVID"], entry["SRCDT"],
                                                    strict=True))
        assert set(zip(fixes["SRCEVID"], fixes["SRCPOS"], fixes["SRCTYPE"], strict=True)) == {
            (moved.event_id, moved.position, "EntryCorrected")}
    same = adtte[adtte["TRACEID"] == pfs["TRACEID"]].iloc[0]
    assert (same["SUBJID"], same["ADT"]) == (pfs["SUBJID"], pfs["ADT"])
    fixes = sources(trace, same, "ADT", corrections=True)
    assert (renamed.event_id, renamed.position, "correction of progression") in set(
        zip(fixes["SRCEVID"], fixes["SRCPOS"], fixes["SRCROLE"], strict=True))

    # As recorded before the corrections: the date as it stood, and no correction traced.
    replay = export(seeded, tmp_path / "replay", as_of=parse_recorded_at(head.recorded_at))
    assert replay["ADSL"].set_index("SUBJID").loc[dead.id, "DTHDT"] == death.occurred_on
    assert not {moved.event_id, renamed.event_id} & set(replay["ADTRACE"]["SRCEVID"])


def qualifies(criterion: str, lesion: dict[str, Any]) -> bool:
    """docs/rules.md section 8, restated: which new lesions count."""
    return bool(lesion["unequivocal"]) and (criterion != "mRECIST" or bool(
        lesion.get("typical_hcc") and (lesion.get("diameter_mm") or 0) >= 10))


def test_a_back_dated_progression_traces_the_read_that_dated_it_back(
        seeded: TrialLedger, tmp_path: Path) -> None:
    datasets = export(seeded, tmp_path)
    trace, adrs, adtte = datasets["ADTRACE"], datasets["ADRS"], datasets["ADTTE"]
    backdated = adrs[adrs["BACKDTFL"] == "Y"]
    assert len(backdated)
    for _, row in backdated.iterrows():
        assert row["AVALC"] == "PD"
        participant = seeded.participant(row["SUBJID"])
        avalc = sources(trace, row, "AVALC")
        first = avalc[avalc["SRCROLE"] == "read"]["SRCEVID"].iloc[0]
        later = avalc[avalc["SRCROLE"] == "later read qualifying the new lesion"]
        assert len(later) == 1 and later["SRCDT"].iloc[0] > row["ADT"]
        criterion = row["PARCAT1"]
        seen = participant.entries[first].data["reads"][criterion]["new_lesions"]
        then = participant.entries[later["SRCEVID"].iloc[0]].data["reads"][criterion]
        assert not any(qualifies(criterion, lesion) for lesion in seen)
        assert {lesion["lesion_id"] for lesion in seen} & {
            lesion["lesion_id"] for lesion in then["new_lesions"]
            if qualifies(criterion, lesion)}
        events = adtte[(adtte["USUBJID"] == row["USUBJID"]) & (adtte["PARCAT1"] == criterion)
                       & (adtte["ADT"] == row["ADT"]) & (adtte["CNSR"] == 0)]
        for _, event in events.iterrows():
            assert later["SRCEVID"].iloc[0] in set(sources(trace, event, "ADT")["SRCEVID"])


def test_each_censoring_traces_what_caused_it(ledger: TrialLedger, tmp_path: Path) -> None:
    """Three participants censored for each reason the seeded trial does not show: PD after
    two missed assessments, new anticancer therapy before PD, death long after treatment
    start with no read."""
    recorded: dict[str, dict[str, RecordedEvent]] = {}
    for pid in ("HCC-01-101", "HCC-01-102", "HCC-01-103"):
        recorded[pid] = {
            "enrolment": post(ledger, pid, story.enrollment()),
            "baseline": post(ledger, pid, story.scan("2026-01-11", baseline=True,
                                                     recist_mm=[50, 30], mrecist_mm=[40, 25])),
            "tace": post(ledger, pid, story.tace("2026-01-12")),
        }
    late = recorded["HCC-01-101"]
    late["read"] = post(ledger, "HCC-01-101", story.scan(
        "2026-02-23", baseline=False, recist_mm=[30, 20], mrecist_mm=[10, 5]))
    late["pd"] = post(ledger, "HCC-01-101", story.scan(  # 117 days later: two reads missed
        "2026-06-20", baseline=False, recist_mm=[60, 40], mrecist_mm=[40, 30]))
    other = recorded["HCC-01-102"]
    other["read"] = post(ledger, "HCC-01-102", story.scan(
        "2026-02-23", baseline=False, recist_mm=[30, 20], mrecist_mm=[10, 5]))
    other["therapy"] = post(ledger, "HCC-01-102", {
        "type": "AnticancerTherapyStarted", "occurred_on": "2026-03-10",
        "data": {"therapy": "lenvatinib", "category": "systemic"}})
    post(ledger, "HCC-01-102", story.scan("2026-04-06", baseline=False, recist_mm=[60, 40],
                                          mrecist_mm=[40, 30]))
    recorded["HCC-01-103"]["death"] = post(ledger, "HCC-01-103", story.death("2026-06-01"))

    datasets = export(ledger, tmp_path, date(2026, 11, 30))
    trace, adtte = datasets["ADTRACE"], datasets["ADTTE"]
    pfs = adtte[adtte["PARAMCD"] == "PFS"]
    expected = {
        "HCC-01-101": ("two missed assessments", date(2026, 2, 23), "read", "pd"),
        "HCC-01-102": ("new anticancer therapy before progression", date(2026, 2, 23), "read",
                       "therapy"),
        "HCC-01-103": ("two missed assessments", date(2026, 1, 12), "tace", "death"),
    }
    for pid, (reason, censored_on, dated_by, caused_by) in expected.items():
        rows = pfs[pfs["SUBJID"] == pid]
        assert len(rows) == 2  # one per criterion
        for _, row in rows.iterrows():
            assert (row["CNSR"], row["EVNTDESC"], row["ADT"]) == (1, reason, censored_on)
            assert set(sources(trace, row, "ADT")["SRCEVID"]) == {
                recorded[pid][dated_by].event_id}
            cause = sources(trace, row, "CNSR")
            assert set(zip(cause["SRCEVID"], cause["SRCPOS"], strict=True)) == {
                (recorded[pid][caused_by].event_id, recorded[pid][caused_by].position)}
