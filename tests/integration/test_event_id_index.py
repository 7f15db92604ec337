"""The event id index (ledger_event_ids): written with each event, back-filled by the
migration, append-only, and only ever a hint that the stored bytes must confirm."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from infra.ledger.event_index import (
    EventIndexMismatch,
    event_id_of,
    find_indexed_event,
    indexed_position,
)
from infra.ledger.merkle_store import MerkleStore
from infra.migrate import alembic_config, upgrade
from infra.settings import Settings
from services.application import TrialLedger
from services.seed import seed_trial
from tests.conftest import RUNTIME_ROLE
from tests.integration.conftest import tamper, write_story

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _index(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {str(r[0]): int(r[1]) for r in conn.execute(
            sa.text("SELECT event_id, position FROM ledger_event_ids"))}


def _stored_ids(ledger: TrialLedger) -> dict[str, int]:
    found = {}
    for row in ledger.store.iter_stored():
        event_id = event_id_of(row.state)
        assert event_id is not None, row.position
        found[event_id] = row.position
    return found


def test_the_index_agrees_with_a_scan_of_the_stored_bytes_for_every_event(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    seed_trial(ledger, participants=4, seed=3)  # accounts, participants, corrections
    stored = _stored_ids(ledger)
    assert _index(engine) == stored  # one row per event, written with it
    tree = MerkleStore(engine)
    for event_id in stored:
        assert find_indexed_event(engine, event_id) == tree.find_event(event_id)
    assert find_indexed_event(engine, UNKNOWN) is None
    assert tree.find_event(UNKNOWN) is None


def test_a_correction_naming_another_event_is_found_only_by_its_own_id(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    dose, fix = recorded[2], recorded[5]
    found = find_indexed_event(engine, dose.event_id)
    assert found is not None and (found.position, found.leaf_index) == (dose.position, 2)
    found = find_indexed_event(engine, fix.event_id)
    assert found is not None and found.position == fix.position


def test_the_migration_back_fills_the_index_from_the_stored_events(
        ledger: TrialLedger, engine: sa.Engine, store_url: str) -> None:
    seed_trial(ledger, participants=2, seed=5)
    expected = _stored_ids(ledger)
    engine.dispose()
    config = alembic_config(store_url, runtime_role=RUNTIME_ROLE)
    command.downgrade(config, "0004")
    with engine.connect() as conn:
        assert "ledger_event_ids" not in sa.inspect(conn).get_table_names()
    upgrade(store_url, runtime_role=RUNTIME_ROLE)
    assert _index(engine) == expected
    tree = MerkleStore(engine)
    for event_id in expected:
        assert find_indexed_event(engine, event_id) == tree.find_event(event_id)


@pytest.mark.parametrize("statement", ["UPDATE ledger_event_ids SET position = position + 1",
                                       "DELETE FROM ledger_event_ids"])
def test_the_index_is_append_only(ledger: TrialLedger, engine: sa.Engine,
                                  statement: str) -> None:
    write_story(ledger)
    before = _index(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert _index(engine) == before


def test_a_wrong_index_row_is_refused_and_never_names_another_event(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    first, second = recorded[0], recorded[1]
    # An id no event carries, pointing at a real event's position.
    tamper(engine, f"INSERT INTO ledger_event_ids VALUES ('{UNKNOWN}', {second.position})",
           tables=("ledger_event_ids",))
    with pytest.raises(EventIndexMismatch, match="carries another event id"):
        find_indexed_event(engine, UNKNOWN)
    # A real event's row moved to another event's position.
    tamper(engine,
           f"UPDATE ledger_event_ids SET position = {second.position} "
           f"WHERE event_id = '{first.event_id}'", tables=("ledger_event_ids",))
    assert indexed_position(engine, first.event_id) == second.position
    with pytest.raises(EventIndexMismatch, match="carries another event id"):
        find_indexed_event(engine, first.event_id)
    # Pointing past the log.
    tamper(engine, f"UPDATE ledger_event_ids SET position = 10000 "
                   f"WHERE event_id = '{first.event_id}'", tables=("ledger_event_ids",))
    with pytest.raises(EventIndexMismatch, match="no event is stored there"):
        find_indexed_event(engine, first.event_id)
    # A deleted row: the event is not found (a 404), never found elsewhere.
    tamper(engine, f"DELETE FROM ledger_event_ids WHERE event_id = '{first.event_id}'",
           tables=("ledger_event_ids",))
    assert find_indexed_event(engine, first.event_id) is None
    assert find_indexed_event(engine, second.event_id) is not None


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_the_runtime_role_may_only_read_and_add_index_rows(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    from infra.db import create_engine

    with engine.connect() as conn:
        granted = {p: conn.execute(sa.text("SELECT has_table_privilege(:r, 'ledger_event_ids', "
                                           ":p)"), {"r": RUNTIME_ROLE, "p": p}).scalar()
                   for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")}
    assert granted == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False,
                       "TRUNCATE": False, "TRIGGER": False}
    runtime = create_engine(settings.database)
    try:
        recorded = TrialLedger(settings, runtime)
        try:
            write_story(recorded)  # the recorder writes the index as the runtime role
        finally:
            recorded.close()
        for statement in ("DELETE FROM ledger_event_ids", "TRUNCATE ledger_event_ids",
                          "ALTER TABLE ledger_event_ids DISABLE TRIGGER USER"):
            refused = pytest.raises(sa.exc.ProgrammingError,
                                    match="permission denied|must be owner")
            with refused, runtime.begin() as conn:
                conn.execute(sa.text(statement))
    finally:
        runtime.dispose()
    assert len(_index(engine)) == 6
