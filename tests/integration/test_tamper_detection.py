"""A DBA edits the store by hand; `verify` names the first row that no longer fits the chain."""

from __future__ import annotations

import sqlalchemy as sa

from infra.ledger.verify import verify_ledger
from services.application import TrialLedger
from tests.integration.conftest import position_column, tamper, write_story


def test_an_untouched_ledger_verifies(ledger: TrialLedger) -> None:
    recorded = write_story(ledger)
    report = verify_ledger(ledger.store)
    assert report.ok and report.events == 6 and report.head == recorded[-1].hash


def test_a_changed_byte_in_an_events_stored_state(ledger: TrialLedger, engine: sa.Engine
                                                  ) -> None:
    recorded = write_story(ledger)
    dose = recorded[2]
    col = position_column(engine)
    with engine.connect() as conn:
        state = bytes(conn.execute(sa.text(f"SELECT state FROM stored_events WHERE {col} = :p"),
                                   {"p": dose.position}).scalar_one())
    forged = state.replace(b'"dose_mg":20.0', b'"dose_mg":200.0')
    assert forged != state
    with engine.begin() as conn:
        tamper(engine)
        conn.execute(sa.text(f"UPDATE stored_events SET state = :s WHERE {col} = :p"),
                     {"s": forged, "p": dose.position})
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == dose.position
    assert "do not match the chain hash" in (report.problem or "")


def test_a_deleted_event_row(ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    col = position_column(engine)
    tamper(engine, f"DELETE FROM stored_events WHERE {col} = {recorded[3].position}")
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == recorded[3].position
    assert "deleted" in (report.problem or "")


def test_an_event_deleted_together_with_its_chain_row(ledger: TrialLedger, engine: sa.Engine
                                                      ) -> None:
    recorded = write_story(ledger)
    col, gone = position_column(engine), recorded[3].position
    tamper(engine, f"DELETE FROM stored_events WHERE {col} = {gone}",
           f"DELETE FROM ledger_chain WHERE position = {gone}")
    report = verify_ledger(ledger.store)
    # the next surviving row no longer sits at the leaf index the chain expects
    assert not report.ok and report.first_bad_position == recorded[4].position
    assert report.first_bad_leaf_index == 3


def test_an_inserted_event_row(ledger: TrialLedger, engine: sa.Engine, store_kind: str) -> None:
    write_story(ledger)
    tamper(engine, "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                   "VALUES ('HCC-01-001', 99, 'domain.participant:Participant.FollowUpContact', "
                   "'{}')")
    col = position_column(engine)
    with engine.connect() as conn:
        inserted = conn.execute(sa.text(f"SELECT max({col}) FROM stored_events")).scalar_one()
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == inserted
    assert "no chain row" in (report.problem or "")


def test_a_changed_chain_row(ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    target = recorded[1].position
    expression = ("recorded_at + interval '1 second'" if engine.dialect.name == "postgresql"
                  else "replace(recorded_at, 'Z', '1Z')")
    tamper(engine, f"UPDATE ledger_chain SET recorded_at = {expression} WHERE position = {target}")
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == target


def test_a_replaced_chain_hash(ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    target = recorded[4].position
    literal = "'\\x" + "00" * 32 + "'" if engine.dialect.name == "postgresql" else "zeroblob(32)"
    tamper(engine, f"UPDATE ledger_chain SET event_hash = {literal} WHERE position = {target}")
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == target


def test_a_truncated_tail_against_a_kept_head(ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    head = verify_ledger(ledger.store).head
    assert head == recorded[-1].hash
    col = position_column(engine)
    cut = recorded[4].position
    tamper(engine, f"DELETE FROM stored_events WHERE {col} >= {cut}",
           f"DELETE FROM ledger_chain WHERE position >= {cut}")
    assert verify_ledger(ledger.store).ok  # the chain alone cannot see a clean cut ...
    report = verify_ledger(ledger.store, expected_head=head)  # ... a kept head can
    assert not report.ok and report.first_bad_leaf_index == 4
    assert report.first_bad_position == recorded[3].position + 1
    assert "truncated" in (report.problem or "")


def test_a_kept_head_still_verifies_after_the_log_grows(ledger: TrialLedger) -> None:
    recorded = write_story(ledger)
    kept = recorded[2].hash
    assert verify_ledger(ledger.store, expected_head=kept).ok
