"""The bulk read paths give exactly what the row-by-row ones give.

`verify_ledger` checks whole pages of driver tuples and hands any page with a disagreement to
the row-by-row walk; here every attack is also judged by the walk alone, with pages of two
rows so that findings fall on page edges, and the reports must be identical. The projector
writes rows in bulk and a rebuild uses large batches; event-by-event projection and a rebuild
must still give the same state hashes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from infra.ledger import verify
from infra.ledger.checkpoints import recomputed_leaves
from infra.ledger.verify import VerifyReport, verify_ledger
from projections.runner import Projector
from projections.state import rebuild, state_hashes
from services.application import TrialLedger
from services.seed import seed_trial
from tests.integration.conftest import position_column, tamper, write_story


def _walked(ledger: TrialLedger, head: str | None = None) -> VerifyReport:
    """The row-by-row walk alone, from the genesis hash."""
    return verify._walk(ledger.store, verify._Progress(head), -1, None)


def _state_byte(ledger: TrialLedger, engine: sa.Engine) -> None:
    col, dose = position_column(engine), write_story(ledger)[2]
    with engine.connect() as conn:
        state = bytes(conn.execute(sa.text(f"SELECT state FROM stored_events WHERE {col} = :p"),
                                   {"p": dose.position}).scalar_one())
    with engine.begin() as conn:
        tamper(engine)
        conn.execute(sa.text(f"UPDATE stored_events SET state = :s WHERE {col} = :p"),
                     {"s": state.replace(b"20.0", b"200.0"), "p": dose.position})


def _state_as_text(ledger: TrialLedger, engine: sa.Engine) -> None:
    col, ae = position_column(engine), write_story(ledger)[4]
    if engine.dialect.name == "postgresql":
        pytest.skip("a bytea column holds no text")
    tamper(engine, f"UPDATE stored_events SET state = CAST(state AS TEXT) WHERE {col} = "
                   f"{ae.position}")


def _deleted_event(ledger: TrialLedger, engine: sa.Engine) -> None:
    gone = write_story(ledger)[3].position
    tamper(engine, f"DELETE FROM stored_events WHERE {position_column(engine)} = {gone}")


def _deleted_event_and_chain_row(ledger: TrialLedger, engine: sa.Engine) -> None:
    gone = write_story(ledger)[1].position
    tamper(engine, f"DELETE FROM stored_events WHERE {position_column(engine)} = {gone}",
           f"DELETE FROM ledger_chain WHERE position = {gone}")


def _deleted_last_chain_row(ledger: TrialLedger, engine: sa.Engine) -> None:
    gone = write_story(ledger)[-1].position
    tamper(engine, f"DELETE FROM ledger_chain WHERE position = {gone}")


def _inserted_event(ledger: TrialLedger, engine: sa.Engine) -> None:
    write_story(ledger)
    tamper(engine, "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                   "VALUES ('HCC-01-001', 99, 'domain.participant:Participant.FollowUpContact', "
                   "'{}')")


def _changed_recorded_at(ledger: TrialLedger, engine: sa.Engine) -> None:
    target = write_story(ledger)[2].position
    expression = ("recorded_at + interval '1 second'" if engine.dialect.name == "postgresql"
                  else "replace(recorded_at, 'Z', '1Z')")
    tamper(engine, f"UPDATE ledger_chain SET recorded_at = {expression} WHERE position = {target}")


def _swapped_versions(ledger: TrialLedger, engine: sa.Engine) -> None:
    target = write_story(ledger)[5].position
    tamper(engine, f"UPDATE ledger_chain SET version = version + 100 WHERE position = {target}")


def _replaced_hash(ledger: TrialLedger, engine: sa.Engine) -> None:
    target = write_story(ledger)[1].position
    literal = "'\\x" + "00" * 32 + "'" if engine.dialect.name == "postgresql" else "zeroblob(32)"
    tamper(engine, f"UPDATE ledger_chain SET event_hash = {literal} WHERE position = {target}")


def _untouched(ledger: TrialLedger, engine: sa.Engine) -> None:
    write_story(ledger)


ATTACKS: dict[str, Callable[[TrialLedger, sa.Engine], None]] = {
    "untouched": _untouched, "state byte": _state_byte, "state as text": _state_as_text,
    "deleted event": _deleted_event, "deleted event and chain row": _deleted_event_and_chain_row,
    "deleted last chain row": _deleted_last_chain_row, "inserted event": _inserted_event,
    "changed recorded_at": _changed_recorded_at, "changed version": _swapped_versions,
    "replaced hash": _replaced_hash,
}


@pytest.mark.parametrize("page", [2, 3, verify.PAGE])
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_verify_reports_what_the_row_by_row_walk_reports(
        ledger: TrialLedger, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, attack: str,
        page: int) -> None:
    ATTACKS[attack](ledger, engine)
    monkeypatch.setattr(verify, "PAGE", page)
    walked = _walked(ledger)
    assert verify_ledger(ledger.store) == walked
    assert walked.ok == (attack in ("untouched", "state as text"))  # the same bytes, as text
    head = _walked(ledger).head or "00" * 32
    for kept in (head, head.upper(), "not hex", "00" * 32):
        assert verify_ledger(ledger.store, expected_head=kept) == _walked(ledger, kept)


def test_the_leaves_of_a_verified_log_are_the_leaves_rederived_from_its_bytes(
        ledger: TrialLedger, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    write_story(ledger)
    monkeypatch.setattr(verify, "PAGE", 4)
    leaves: list[bytes] = []
    assert verify_ledger(ledger.store, leaves=leaves).ok
    assert leaves == [leaf.hash for leaf in recomputed_leaves(engine)]


def test_raw_pages_hold_what_the_chain_rows_hold(ledger: TrialLedger) -> None:
    write_story(ledger)
    store = ledger.store
    with store.engine.connect() as conn:
        chain = store.chain_page(conn, -1, 100)
        events = store.events_page(conn, -1, 100)
    rows = list(store.iter_chain())
    assert [(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), bytes(r[6])) for r in chain] == [
        (c.leaf_index, c.position, c.stream_id, c.version, c.recorded_at, c.prev_hash,
         c.event_hash) for c in rows]
    assert [(e[0], e[5], e[6]) for e in events] == [
        (c.position, c.stream_id, c.recorded_at) for c in rows]


def _hashes(engine: sa.Engine) -> dict[str, tuple[int, int, str]]:
    return {name: (state["position"], state["rows"], state["state_hash"])
            for name, state in state_hashes(engine).items()}


def test_event_by_event_projection_and_a_rebuild_give_the_same_state(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    seed_trial(ledger, participants=3, seed=5)
    Projector(ledger, engine).catch_up(limit=1)
    one_by_one = _hashes(engine)
    rebuild(ledger, engine)
    assert _hashes(engine) == one_by_one
    Projector(ledger, engine, generation=None).catch_up(limit=7)
    rebuild(ledger, engine)
    assert _hashes(engine) == one_by_one
