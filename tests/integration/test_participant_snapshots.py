"""Participant snapshots: a read that starts from one gives exactly what a fold of the log
gives, at every version, on both stores; an edited, moved, stale or foreign snapshot is never
used (docs/adr/0010-participant-snapshots.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from domain.ledger_event import Author
from domain.participant import Participant
from infra.settings import Settings
from services.api.casebook_view import casebook
from services.application import TrialLedger
from services.casebook_outcomes import EntryIndex, outcome_key
from services.participant_codec import (
    FINGERPRINT,
    decode_participant,
    decode_views,
    encode_participant,
    encode_views,
    inflate,
)
from services.participant_snapshots import AGGREGATE_EVERY
from services.seed import fold_plan, plan_trial, seed_trial
from tests import story
from tests.integration.conftest import post, tamper

PID = "HCC-01-009"
DM = Author("dm", "data_manager")
INVESTIGATOR = Author("invest1", "investigator")


def eventful(ledger: TrialLedger) -> None:
    """One participant with every kind of change a snapshot must carry: a scan corrected and
    one voided, a dose moved before treatment start, a signature invalidated, a lock and an
    unlock, a transfer, off-protocol therapy and a death."""
    post(ledger, PID, story.enrollment())
    post(ledger, PID, story.scan("2026-01-11", baseline=True, recist_mm=[50, 30],
                                 mrecist_mm=[40, 25]))
    post(ledger, PID, story.tace("2026-01-14"))
    dose = post(ledger, PID, story.camrelizumab("2026-01-16"))
    post(ledger, PID, story.apatinib("2026-01-16", end_on="2026-02-05"))
    post(ledger, PID, story.adverse_event("AE1", "2026-01-20"))
    post(ledger, PID, story.ae_update("AE1", "2026-01-25", 3))
    first = post(ledger, PID, story.scan("2026-02-25", baseline=False, recist_mm=[30, 20],
                                         mrecist_mm=[10, 5]))
    post(ledger, PID, story.camrelizumab("2026-02-27", cycle=2))
    post(ledger, PID, story.follow_up("2026-03-10"))
    ledger.sign_casebook(PID, full_name="Ian Vest", meaning="reviewed", by=INVESTIGATOR,
                         today=date.fromisoformat("2026-03-11"))
    post(ledger, PID, story.correction(first.event_id, "2026-02-25", story.scan(
        "x", baseline=False, recist_mm=[28, 20], mrecist_mm=[8, 5])["data"]))
    post(ledger, PID, story.correction(dose.event_id, "2026-01-16",
                                       story.camrelizumab("x")["data"], new_date="2026-01-12"))
    wrong = post(ledger, PID, story.scan("2026-04-08", baseline=False, recist_mm=[60, 40],
                                         mrecist_mm=[50, 40]))
    post(ledger, PID, story.void(wrong.event_id, "2026-04-09"))
    post(ledger, PID, story.scan("2026-04-10", baseline=False, recist_mm=[29, 19],
                                 mrecist_mm=[7, 4]))
    ledger.lock_participant(PID, DM, "monitoring visit", date.fromisoformat("2026-04-11"))
    ledger.unlock_participant(PID, DM, "visit done", date.fromisoformat("2026-04-12"))
    ledger.transfer_participant(PID, "S02", DM, "moved to another hospital",
                                date.fromisoformat("2026-04-13"))
    post(ledger, PID, story.ae_resolved("AE1", "2026-04-14"))
    post(ledger, PID, {"type": "AnticancerTherapyStarted", "occurred_on": "2026-05-02",
                       "data": {"therapy": "sorafenib", "category": "systemic"}})
    post(ledger, PID, story.scan("2026-05-20", baseline=False, recist_mm=[70, 50],
                                 mrecist_mm=[60, 45]))
    post(ledger, PID, story.death("2026-06-01"))


def assert_every_version_reads_as_a_fold(ledger: TrialLedger, pid: str) -> list[int]:
    """At every version: the snapshot read's aggregate equals the library's fold from the
    first event, and its casebook (with the stored outcome views) equals the casebook derived
    from that fold; the stored views are the ones derived from the version's own inputs.
    Returns the snapshot version each read started from."""
    started = []
    for version in range(1, ledger.participant(pid).version + 1):
        loaded = ledger.participant_snapshots.load(pid, version=version)
        assert loaded is not None
        folded: Participant = ledger.repository.get(pid, version=version)
        assert loaded.aggregate == folded, f"{pid} v{version}"
        assert loaded.outcome is not None
        assert loaded.outcome.key == outcome_key(EntryIndex(loaded.aggregate))
        assert casebook(loaded.aggregate, cached=loaded.outcome) == casebook(folded)
        assert loaded.snapshot_version <= version < loaded.snapshot_version + AGGREGATE_EVERY
        started.append(loaded.snapshot_version)
    return started


def snapshot_rows(engine: sa.Engine, pid: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT kind, version, codec, input_key, payload, mac FROM participant_snapshots "
            "WHERE stream_id = :s ORDER BY kind, version"), {"s": pid}))


def test_a_seeded_trial_reads_as_its_fold_at_every_version(ledger: TrialLedger) -> None:
    seed_trial(ledger, participants=6, seed=3)
    eventful(ledger)
    for pid, _ in ledger.participant_ids():
        started = assert_every_version_reads_as_a_fold(ledger, pid)
        assert max(started) >= AGGREGATE_EVERY


def test_a_save_of_many_events_leaves_what_one_event_saves_would(ledger: TrialLedger,
                                                                 engine: sa.Engine) -> None:
    participants = fold_plan(plan_trial(participants=3, seed=5))
    for participant in participants:
        ledger.save(participant)
    for participant in participants:
        assert_every_version_reads_as_a_fold(ledger, participant.id)
        rows = snapshot_rows(engine, participant.id)
        aggregate = [row.version for row in rows if row.kind == "aggregate"]
        assert aggregate == list(range(AGGREGATE_EVERY, participant.version + 1,
                                       AGGREGATE_EVERY))
        keys = [row.input_key for row in rows if row.kind == "outcome"]
        assert len(keys) == len(set(keys)) > 1


def test_a_snapshot_never_holds_a_parsed_payload(ledger: TrialLedger, engine: sa.Engine
                                                 ) -> None:
    eventful(ledger)
    live = ledger.participant(PID)
    casebook(live)  # reads every entry's typed payload and keeps it on its entry
    assert any("_payload" in entry.__dict__ for entry in live.entries.values())
    assert decode_participant(encode_participant(live)) == live
    for row in snapshot_rows(engine, PID):
        assert b"_payload" not in inflate(row.payload)


# -- what a DBA may do to a snapshot, and what a read then shows ---------------------------


def edit_row(engine: sa.Engine, pid: str, kind: str, version: int, **values: Any) -> None:
    sets = ", ".join(f"{name} = :{name}" for name in values)
    with engine.begin() as conn:
        changed = conn.execute(sa.text(
            f"UPDATE participant_snapshots SET {sets} WHERE stream_id = :s AND kind = :k AND "
            "version = :v"), {**values, "s": pid, "k": kind, "v": version}).rowcount
    assert changed == 1


def row(engine: sa.Engine, pid: str, kind: str, version: int) -> Any:
    return next(r for r in snapshot_rows(engine, pid) if (r.kind, r.version) == (kind, version))


@pytest.fixture
def snapshotted(ledger: TrialLedger) -> Iterator[TrialLedger]:
    eventful(ledger)
    yield ledger


def test_an_edited_aggregate_snapshot_is_not_used(snapshotted: TrialLedger,
                                                  engine: sa.Engine) -> None:
    ledger = snapshotted
    before = casebook(ledger.repository.get(PID, version=AGGREGATE_EVERY + 3))
    forged = decode_participant(row(engine, PID, "aggregate", AGGREGATE_EVERY).payload)
    dose = next(e for e in forged.entries.values() if e.type == "DoseAdministered")
    dose.data = {**dose.data, "dose_mg": 999}
    edit_row(engine, PID, "aggregate", AGGREGATE_EVERY, payload=encode_participant(forged))
    loaded = ledger.participant_snapshots.load(PID, version=AGGREGATE_EVERY + 3)
    assert loaded is not None and loaded.snapshot_version == 0
    assert loaded.aggregate == ledger.repository.get(PID, version=AGGREGATE_EVERY + 3)
    assert casebook(loaded.aggregate, cached=loaded.outcome) == before
    assert 999 not in [d["dose_mg"] for d in before["doses"]["camrelizumab"]]


def test_edited_outcome_views_are_not_used(snapshotted: TrialLedger, engine: sa.Engine) -> None:
    ledger = snapshotted
    now = ledger.participant(PID)
    truth = casebook(now)
    newest = max(r.version for r in snapshot_rows(engine, PID) if r.kind == "outcome")
    views = decode_views(row(engine, PID, "outcome", newest).payload)
    views["best_overall_response"]["RECIST 1.1"]["confirmed"] = "CR"
    edit_row(engine, PID, "outcome", newest, payload=encode_views(views))
    loaded = ledger.point_in_time(PID)
    assert loaded.outcome is None or loaded.outcome.key != outcome_key(EntryIndex(now))
    assert casebook(loaded.aggregate, cached=loaded.outcome) == truth
    assert truth["best_overall_response"]["RECIST 1.1"]["confirmed"] != "CR"


def test_a_snapshot_moved_to_another_version_is_not_used(snapshotted: TrialLedger,
                                                         engine: sa.Engine) -> None:
    ledger = snapshotted
    later = row(engine, PID, "aggregate", 2 * AGGREGATE_EVERY)
    edit_row(engine, PID, "aggregate", AGGREGATE_EVERY, payload=later.payload, mac=later.mac)
    loaded = ledger.participant_snapshots.load(PID, version=AGGREGATE_EVERY + 1)
    assert loaded is not None and loaded.snapshot_version == 0
    assert loaded.aggregate == ledger.repository.get(PID, version=AGGREGATE_EVERY + 1)


def test_a_snapshot_over_a_rewritten_chain_is_not_used(snapshotted: TrialLedger,
                                                       engine: sa.Engine) -> None:
    ledger = snapshotted
    tamper(engine, "UPDATE ledger_chain SET event_hash = prev_hash WHERE stream_id = "
                   f"'{PID}' AND version = {AGGREGATE_EVERY}", tables=("ledger_chain",))
    loaded = ledger.participant_snapshots.load(PID, version=AGGREGATE_EVERY + 2)
    assert loaded is not None and loaded.snapshot_version == 0
    assert loaded.aggregate == ledger.repository.get(PID, version=AGGREGATE_EVERY + 2)


def test_a_snapshot_of_other_code_or_under_another_key_is_not_used(
        snapshotted: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    ledger = snapshotted
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO participant_snapshots (stream_id, kind, codec, version, covers_hash, "
            "input_key, payload, mac) SELECT stream_id, kind, 'another release', version + 1, "
            "covers_hash, input_key, payload, mac FROM participant_snapshots "
            "WHERE stream_id = :s AND kind = 'aggregate'"), {"s": PID})
    loaded = ledger.participant_snapshots.load(PID, version=AGGREGATE_EVERY + 1)
    assert loaded is not None and loaded.snapshot_version == AGGREGATE_EVERY
    rotated = settings.model_copy(update={"jwt_secret": "another-secret-" + "x" * 32})
    other = TrialLedger(rotated, engine)
    try:
        for version in (AGGREGATE_EVERY, AGGREGATE_EVERY + 1, other.participant(PID).version):
            found = other.participant_snapshots.load(PID, version=version)
            assert found is not None and found.snapshot_version == 0 and found.outcome is None
            assert found.aggregate == ledger.repository.get(PID, version=version)
    finally:
        other.close()
    assert FINGERPRINT in {r.codec for r in snapshot_rows(engine, PID)}


def test_a_service_without_a_secret_makes_one_and_a_reader_without_it_folds_the_log(
        settings: Settings, engine: sa.Engine, tmp_path: Any) -> None:
    from infra.db import create_engine
    from infra.secrets import ensure_secrets

    writer_settings = settings.model_copy(update={"jwt_secret": None,
                                                  "secrets_dir": tmp_path / "secrets"})
    ensure_secrets(writer_settings)  # what the service does at start
    writer = TrialLedger(writer_settings, engine)
    try:
        eventful(writer)
    finally:
        writer.close()
    assert (tmp_path / "secrets" / "jwt.secret").stat().st_mode & 0o777 == 0o600
    assert {r.kind for r in snapshot_rows(engine, PID)} == {"aggregate", "outcome"}
    reader_settings = settings.model_copy(update={
        "jwt_secret": None, "secrets_dir": tmp_path / "elsewhere"}).for_reading()
    reading = create_engine(reader_settings.database)
    reader = TrialLedger(reader_settings, reading)
    try:
        times = [row.recorded_at for row in reader.store.chain_for_stream(PID)]
        for version, as_of in enumerate(times, start=1):
            loaded = reader.point_in_time(PID, as_of=as_of)
            assert loaded.snapshot_version == 0 and loaded.outcome is None
            assert loaded.aggregate == reader.repository.get(PID, version=version)
            participant = reader.participant(PID, as_of=as_of)
            assert isinstance(participant, Participant) and participant.version == version
    finally:
        reader.close()
        reading.dispose()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_the_runtime_role_adds_snapshots_and_can_change_none(settings: Settings) -> None:
    import psycopg

    from infra.db import create_engine

    runtime = create_engine(settings.database)
    ledger = TrialLedger(settings, runtime)
    try:
        eventful(ledger)
        rows = snapshot_rows(runtime, PID)
        assert {r.kind for r in rows} == {"aggregate", "outcome"}
        assert_every_version_reads_as_a_fold(ledger, PID)
        for statement in ("UPDATE participant_snapshots SET payload = mac",
                          "DELETE FROM participant_snapshots", "TRUNCATE participant_snapshots"):
            with pytest.raises(sa.exc.ProgrammingError) as refused, runtime.begin() as conn:
                conn.execute(sa.text(statement))
            assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        assert snapshot_rows(runtime, PID) == rows
    finally:
        ledger.close()
        runtime.dispose()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_read_survives_the_server_dropping_its_kept_connection(snapshotted: TrialLedger,
                                                                  engine: sa.Engine) -> None:
    ledger = snapshotted
    expected: Participant = ledger.repository.get(PID)
    assert ledger.point_in_time(PID).aggregate == expected
    store = ledger.participant_snapshots.store()
    assert store is not None
    kept = [c.dbapi_connection.info.backend_pid for c in store.held._free]
    assert kept
    with engine.begin() as conn:
        for pid in kept:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert ledger.point_in_time(PID).aggregate == expected
