"""The ADaM export against independent figures, on both stores: ADSL against the
participants the ledger holds, ADRS against the endpoints read's best responses and ORR,
ADTTE refitted with lifelines against the endpoints read's medians and rates, at a past
recorded time and for a narrowed scope."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
from lifelines import KaplanMeierFitter

from domain.protocol import CRITERIA, DAYS_PER_MONTH, LANDMARK_MONTHS, Criterion
from infra.ledger.chain import parse_recorded_at
from projections.runner import Projector
from services.application import TrialLedger
from services.exports.adam import write_adam
from services.exports.scope import ExportScope
from services.exports.study import STUDY_ID
from services.seed import DATA_CUTOFF
from services.study_outcomes import endpoints, study_outcomes

MOMENT = datetime(2026, 12, 1, tzinfo=UTC)
EARLY_CUTOFF = date(2024, 6, 1)
"""Some participants not yet enrolled, some enrolled and not yet treated, few events."""
FILES = ["adsl.xpt", "adrs.xpt", "adtte.xpt", "adtrace.xpt"]


def export(ledger: TrialLedger, directory: Path, cutoff: date = DATA_CUTOFF,
           **scope: Any) -> dict[str, pd.DataFrame]:
    """Write the export and read every file back with pyreadstat, by dataset name."""
    paths = write_adam(ledger, ledger.store.engine, directory,
                       scope=ExportScope(created_at=MOMENT, cutoff=cutoff, **scope))
    assert [p.name for p in paths] == FILES
    found = {}
    for path in paths:
        frame, meta = pyreadstat.read_xport(str(path))
        found[str(meta.table_name)] = frame
    return found


def api_endpoints(ledger: TrialLedger, criterion: Criterion, cutoff: date,
                  as_of: str | None = None, sites: tuple[str, ...] | None = None
                  ) -> dict[str, Any]:
    """What GET /api/v1/endpoints answers, through the route's own calls."""
    outcomes = study_outcomes(ledger, ledger.store.engine, sites, as_of)
    return endpoints(outcomes, criterion, cutoff, MOMENT)


def ledger_participants(ledger: TrialLedger, cutoff: date, as_of: str | None = None,
                        sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Participants enrolled by the cutoff, straight from their event streams."""
    found = {}
    for pid, _ in ledger.participant_ids(as_of=as_of):
        participant = ledger.participant(pid, as_of=as_of)
        if participant.enrollment.occurred_on <= cutoff and (
                sites is None or participant.site_id in sites):
            found[pid] = participant
    return found


def test_a_cutoff_is_required_and_an_empty_ledger_gives_empty_datasets(
        ledger: TrialLedger, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cutoff"):
        write_adam(ledger, ledger.store.engine, tmp_path, scope=ExportScope(created_at=MOMENT))
    datasets = export(ledger, tmp_path / "empty")
    assert {name: len(frame) for name, frame in datasets.items()} == {
        "ADSL": 0, "ADRS": 0, "ADTTE": 0, "ADTRACE": 0}
    assert "SAFFL" in datasets["ADSL"].columns and "SRCEVID" in datasets["ADTRACE"].columns


@pytest.mark.parametrize("cutoff", [EARLY_CUTOFF, DATA_CUTOFF])
def test_adsl_has_one_row_per_participant_with_the_populations(
        seeded: TrialLedger, tmp_path: Path, cutoff: date) -> None:
    adsl = export(seeded, tmp_path, cutoff)["ADSL"].set_index("SUBJID")
    people = ledger_participants(seeded, cutoff)
    assert sorted(adsl.index) == sorted(people)
    assert adsl["USUBJID"].is_unique and set(adsl["ITTFL"]) == {"Y"}
    for pid, participant in people.items():
        row = adsl.loc[pid]
        assert row["SITEID"] == participant.site_id
        assert row["ENRLDT"] == participant.enrollment.occurred_on
        assert row["SEX"] == participant.enrollment.data["sex"]
        given = [e.occurred_on for e in participant.entries_of("DoseAdministered",
                                                               "TACEPerformed")]
        start = min((d for d in given if d <= cutoff), default=None)
        assert row["SAFFL"] == ("Y" if start is not None else "N")
        assert (row["TRTSDT"] if start is not None else None) == start
        died = participant.died_on if participant.died_on and participant.died_on <= cutoff \
            else None
        assert (row["DTHFL"] == "Y") == (died is not None)
        assert (row["DTHDT"] if died else None) == died
    for criterion, flag in zip(CRITERIA, ("EFFRFL", "EFFMFL"), strict=True):
        population = api_endpoints(seeded, criterion, cutoff)["population"]
        assert population["enrolled"] == len(adsl)
        assert population["treated"] == (adsl["SAFFL"] == "Y").sum()
        assert population["evaluable"] == (adsl[flag] == "Y").sum()
    if cutoff == EARLY_CUTOFF:
        assert (adsl["SAFFL"] == "Y").sum() < len(adsl) < len(seeded.participant_ids())


@pytest.mark.parametrize("cutoff", [EARLY_CUTOFF, DATA_CUTOFF])
def test_adrs_best_response_and_orr_equal_the_endpoints(
        seeded: TrialLedger, tmp_path: Path, cutoff: date) -> None:
    adrs = export(seeded, tmp_path, cutoff)["ADRS"]
    outcomes = {o.participant_id: o for o in study_outcomes(seeded, seeded.store.engine,
                                                            None, None)}
    for criterion in CRITERIA:
        rows = adrs[adrs["PARCAT1"] == criterion]
        best = rows[rows["PARAMCD"] == "BOR"]
        for _, row in best.iterrows():
            summary = outcomes[row["SUBJID"]].summary(criterion, cutoff)
            assert row["AVALC"] == summary.best_overall_response
            assert (row["ANL01FL"] == "Y") == summary.evaluable
        analysed = best[best["ANL01FL"] == "Y"]
        report = api_endpoints(seeded, criterion, cutoff)
        counts = Counter(analysed["AVALC"])
        assert {r: counts[r] for r in ("CR", "PR", "SD", "PD", "NE")} == \
            report["best_overall_response"]
        responders = analysed["AVALC"].isin(["CR", "PR"]).sum()
        assert report["orr"]["responders"] == responders
        assert report["orr"]["n"] == len(analysed)
        if len(analysed):
            assert report["orr"]["rate"] == round(responders / len(analysed), 4)
        assert report["dcr"]["count"] == analysed["AVALC"].isin(["CR", "PR", "SD"]).sum()
        points = rows[rows["PARAMCD"] == "OVRLRESP"]
        assert (points["ADT"] <= cutoff).all()
        assert set(points["AVALC"]) <= {"CR", "PR", "SD", "PD", "NE"}
    if cutoff == DATA_CUTOFF:
        assert set(adrs[adrs["PARAMCD"] == "BOR"]["AVALC"]) >= {"CR", "PR", "SD", "NE"}


def lifelines_median_days(kmf: KaplanMeierFitter, times: pd.Series) -> float | None:
    """lifelines' median, with docs/rules.md's rule where S stays exactly 0.5 over a
    stretch: the midpoint of the stretch's start and the next event time (or the last
    follow-up time when no event follows)."""
    curve = kmf.survival_function_.iloc[:, 0]
    flat = curve[(curve - 0.5).abs() <= 1e-9]
    if len(flat):
        start = float(flat.index[0])
        later = curve[curve.index > start]
        drops = later[later < 0.5 - 1e-9]
        end = float(drops.index[0]) if len(drops) else float(times.max())
        return (start + end) / 2
    median = float(kmf.median_survival_time_)
    return None if median == float("inf") else median


def months(days: float | None) -> float | None:
    return None if days is None else round(days / DAYS_PER_MONTH, 1)


def check_block(rows: pd.DataFrame, block: dict[str, Any]) -> None:
    """One ADTTE parameter refitted with lifelines against the endpoints read's block."""
    assert block["n"] == len(rows)
    assert block["events"] == (rows["CNSR"] == 0).sum()
    assert block["censored"] == (rows["CNSR"] == 1).sum()
    if not len(rows):
        return
    assert set(rows["AVALU"]) == {"DAYS"}
    assert (rows["AVAL"] == [(a - s).days + 1 for a, s in zip(rows["ADT"], rows["STARTDT"],
                                                               strict=True)]).all()
    kmf = KaplanMeierFitter().fit(rows["AVAL"], 1 - rows["CNSR"], alpha=0.05)
    assert block["median_months"] == months(lifelines_median_days(kmf, rows["AVAL"]))
    for landmark in LANDMARK_MONTHS:
        if f"rate_{landmark}m" not in block:
            continue
        t = landmark * DAYS_PER_MONTH
        expected = float(kmf.survival_function_at_times(t).iloc[0])
        if t > rows["AVAL"].max() and expected > 0:
            expected_rate = None  # past the last follow-up: not estimable
        else:
            expected_rate = round(expected, 4)
        assert block[f"rate_{landmark}m"]["estimate"] == pytest.approx(expected_rate,
                                                                        abs=1e-12)


@pytest.mark.parametrize("cutoff", [date(2025, 3, 31), DATA_CUTOFF])
def test_adtte_refitted_with_lifelines_gives_the_endpoints(
        seeded: TrialLedger, tmp_path: Path, cutoff: date) -> None:
    adtte = export(seeded, tmp_path, cutoff)["ADTTE"]
    assert set(adtte["CNSR"]) <= {0, 1}
    for criterion in CRITERIA:
        report = api_endpoints(seeded, criterion, cutoff)
        check_block(adtte[adtte["PARAMCD"] == "OS"], report["os"])
        for paramcd in ("PFS", "DOR"):
            rows = adtte[(adtte["PARAMCD"] == paramcd) & (adtte["PARCAT1"] == criterion)]
            check_block(rows, report[paramcd.lower()])
    if cutoff == DATA_CUTOFF:
        assert set(adtte["CNSR"]) == {0, 1}


def test_an_earlier_recorded_time_gives_what_the_api_gave_then(
        seeded: TrialLedger, tmp_path: Path) -> None:
    chain = list(seeded.store.iter_chain())
    participants = {pid for pid, _ in seeded.participant_ids()}
    last_enrolled = max(index for index, row in enumerate(chain)
                        if row.stream_id in participants and row.version == 1)
    as_of = chain[last_enrolled - 1].recorded_at  # just before the last enrolment
    moment = parse_recorded_at(as_of)
    earlier = export(seeded, tmp_path / "then", as_of=moment)
    now = export(seeded, tmp_path / "now")
    assert len(earlier["ADSL"]) == len(ledger_participants(seeded, DATA_CUTOFF, as_of))
    assert len(earlier["ADSL"]) < len(now["ADSL"])
    assert (earlier["ADTRACE"]["SRCRECTM"] <= as_of).all()
    adtte, adrs = earlier["ADTTE"], earlier["ADRS"]
    for criterion in CRITERIA:
        report = api_endpoints(seeded, criterion, DATA_CUTOFF, as_of=as_of)
        assert report["population"]["enrolled"] == len(earlier["ADSL"])
        check_block(adtte[adtte["PARAMCD"] == "OS"], report["os"])
        check_block(adtte[(adtte["PARAMCD"] == "PFS") & (adtte["PARCAT1"] == criterion)],
                    report["pfs"])
        best = adrs[(adrs["PARAMCD"] == "BOR") & (adrs["PARCAT1"] == criterion)
                    & (adrs["ANL01FL"] == "Y")]
        assert dict(Counter(best["AVALC"])) == {
            r: n for r, n in report["best_overall_response"].items() if n}
    # A participant seen both times: the recorded time, not the cutoff, decides what is known.
    shared = set(earlier["ADSL"]["SUBJID"]) & set(now["ADSL"]["SUBJID"])
    assert shared
    then_os = earlier["ADTTE"][earlier["ADTTE"]["PARAMCD"] == "OS"].set_index("SUBJID")
    now_os = now["ADTTE"][now["ADTTE"]["PARAMCD"] == "OS"].set_index("SUBJID")
    assert any(then_os.loc[pid, "AVAL"] < now_os.loc[pid, "AVAL"] for pid in shared
               if pid in then_os.index)


def test_sites_and_a_participant_narrow_every_dataset(
        seeded: TrialLedger, tmp_path: Path) -> None:
    sites = ("S02", "S03")
    narrowed = export(seeded, tmp_path / "sites", sites=sites)
    expected = ledger_participants(seeded, DATA_CUTOFF, sites=sites)
    assert sorted(narrowed["ADSL"]["SUBJID"]) == sorted(expected)
    for name in ("ADSL", "ADRS", "ADTTE"):
        assert set(narrowed[name]["SITEID"]) <= set(sites)
    assert set(narrowed["ADTRACE"]["USUBJID"]) == set(narrowed["ADSL"]["USUBJID"])
    for criterion in CRITERIA:
        report = api_endpoints(seeded, criterion, DATA_CUTOFF, sites=sites)
        adrs = narrowed["ADRS"]
        best = adrs[(adrs["PARAMCD"] == "BOR") & (adrs["PARCAT1"] == criterion)
                    & (adrs["ANL01FL"] == "Y")]
        assert report["orr"]["n"] == len(best)
        adtte = narrowed["ADTTE"]
        check_block(adtte[(adtte["PARAMCD"] == "PFS") & (adtte["PARCAT1"] == criterion)],
                    report["pfs"])
    one = min(expected)
    alone = export(seeded, tmp_path / "one", participant_id=one)
    for name, frame in alone.items():
        assert len(frame) and set(frame["USUBJID"]) == {f"{STUDY_ID}-{one}"}, name
    elsewhere = export(seeded, tmp_path / "none", participant_id=one, sites=("S01",))
    assert all(len(frame) == 0 for frame in elsewhere.values())


def test_the_outcome_read_model_and_a_replay_give_the_same_files(
        seeded: TrialLedger, tmp_path: Path) -> None:
    """Served from the projected outcome rows (all, or the first half with the rest folded
    from the log), the export is the one folded from the log alone, byte for byte (the
    headers carry the export's creation time, so the same export has the same SHA-256)."""
    folded = export(seeded, tmp_path / "folded")
    projector = Projector(seeded, seeded.store.engine)
    projector.catch_up(until=seeded.store.head().position // 2)  # type: ignore[union-attr]
    half = export(seeded, tmp_path / "half")
    projector.catch_up()
    stored = export(seeded, tmp_path / "stored")
    for name, frame in folded.items():
        pd.testing.assert_frame_equal(frame, half[name])
        pd.testing.assert_frame_equal(frame, stored[name])
    for name in FILES:
        digests = {hashlib.sha256((tmp_path / run / name).read_bytes()).hexdigest()
                   for run in ("folded", "half", "stored")}
        assert len(digests) == 1, name
