"""One contract for the chained recorder, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import IntegrityError, StoredEvent

from infra.ledger.chain import GENESIS_HASH, ChainedRecord, link_hash
from infra.ledger.verify import verify_ledger
from services.application import TrialLedger
from tests import story
from tests.integration.conftest import position_column, post, write_story


def test_every_stored_event_has_its_chain_row_linked_to_the_previous(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    chain = list(ledger.store.iter_chain())
    stored = list(ledger.store.iter_stored())
    assert [c.leaf_index for c in chain] == list(range(6))
    assert [c.position for c in chain] == [s.position for s in stored] == [
        r.position for r in recorded]
    prev = GENESIS_HASH
    for c, s in zip(chain, stored, strict=True):
        record = ChainedRecord(c.leaf_index, c.position, s.stream_id, s.version, s.topic,
                               c.recorded_at, s.state)
        # the hash is SHA-256 over the previous hash and the canonical stored bytes
        assert c.event_hash == hashlib.sha256(prev + _canonical(record)).digest()
        assert c.prev_hash == prev
        prev = c.event_hash
    assert [c.event_hash.hex() for c in chain] == [r.hash for r in recorded]


def _canonical(record: ChainedRecord) -> bytes:
    from infra.ledger.chain import canonical_bytes

    return canonical_bytes(record)


def test_recorded_at_comes_from_the_database_and_strictly_increases(ledger: TrialLedger) -> None:
    write_story(ledger)
    times = [c.recorded_at for c in ledger.store.iter_chain()]
    assert times == sorted(set(times))
    assert all(t.endswith("Z") and len(t) == 27 for t in times)


def test_a_version_conflict_stores_neither_event_nor_chain_row(ledger: TrialLedger) -> None:
    write_story(ledger)
    before = ledger.store.count()
    duplicate = StoredEvent("HCC-01-001", 2, "domain.participant:Participant.DoseAdministered",
                            b"{}")
    with pytest.raises(IntegrityError):
        ledger.recorder.insert_events([duplicate])
    assert ledger.store.count() == before
    assert verify_ledger(ledger.store).ok


def test_a_batch_is_chained_in_order_within_one_transaction(ledger: TrialLedger) -> None:
    write_story(ledger)
    batch = [StoredEvent("batch-stream", v, "tests:Batch", f'{{"n":{v}}}'.encode())
             for v in (1, 2, 3)]
    positions = ledger.recorder.insert_events(batch)
    assert positions is not None and len(positions) == 3
    rows = ledger.store.chain_for_stream("batch-stream")
    assert [r.version for r in rows] == [1, 2, 3]
    assert [r.position for r in rows] == list(positions)
    assert rows[1].prev_hash == rows[0].event_hash and rows[2].prev_hash == rows[1].event_hash
    assert verify_ledger(ledger.store).ok


def test_an_idempotency_claim_commits_or_rolls_back_with_the_events(ledger: TrialLedger) -> None:
    first = post(ledger, "HCC-01-001", story.enrollment(), idempotency_key="enrol-001")
    record = ledger.store.idempotency("jdoe", "enrol-001")
    assert record is not None and (record.stream_id, record.version) == ("HCC-01-001", 1)
    again = post(ledger, "HCC-01-001", story.enrollment(), idempotency_key="enrol-001")
    assert again == first and ledger.store.count() == 1


@pytest.mark.parametrize("table", ["stored_events", "ledger_chain", "idempotency_keys"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET version = version", "DELETE FROM {t}",
                                       "TRUNCATE {t}"])
def test_the_store_refuses_to_change_or_remove_rows(
        ledger: TrialLedger, engine: sa.Engine, store_kind: str, table: str, statement: str
) -> None:
    post(ledger, "HCC-01-001", story.enrollment(), idempotency_key="k")
    if statement.startswith("TRUNCATE") and store_kind == "sqlite":
        statement = "DELETE FROM {t}"  # SQLite has no TRUNCATE; its DELETE is guarded
    if table == "stored_events":
        statement = statement.replace("version = version", "originator_version = "
                                      "originator_version")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement.format(t=table)))
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 1


def test_positions_are_the_stores_notification_ids(ledger: TrialLedger, engine: sa.Engine
                                                   ) -> None:
    recorded = write_story(ledger)
    col = position_column(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT {col}, originator_id, originator_version FROM stored_events ORDER BY {col}"
        )).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (r.position, r.participant_id, r.version) for r in recorded]


def test_the_chain_hash_is_over_the_stored_bytes(ledger: TrialLedger) -> None:
    (first, *_rest) = write_story(ledger)
    (stored,) = [s for s in ledger.store.iter_stored() if s.position == first.position]
    chain = ledger.store.chain_at(first.position)
    assert chain is not None
    expected = link_hash(GENESIS_HASH, ChainedRecord(0, first.position, "HCC-01-001", 1,
                                                     stored.topic, chain.recorded_at,
                                                     stored.state))
    assert expected.hex() == first.hash
    assert b'"actor":"jdoe"' in stored.state and b'"site_id":"S01"' in stored.state
