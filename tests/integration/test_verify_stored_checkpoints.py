"""Plain `verify` checks the log against every signed checkpoint the store holds, so the full
rewrite (an event's bytes and every later chain link) of a checkpointed event is caught and
named without a checkpoint file; and it says what it could not prove."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import sqlalchemy as sa

from infra.ledger import checkpoint_format
from infra.ledger.checkpoints import issue_checkpoint
from infra.ledger.merkle_store import MerkleStore
from infra.ledger.verification import verify_store
from infra.ledger.verify import verify_ledger
from infra.settings import Settings
from services.application import TrialLedger
from tests import story
from tests.integration.conftest import position_column, post, tamper, write_story
from tests.integration.test_merkle_store import (
    append,
    dose_story,
    lift_merkle_guards,
    post_dose,
    rewrite_and_rechain,
    run_cli,
)

DOSE_20, DOSE_200 = b'"dose_mg":20.0', b'"dose_mg":200.0'


def dose_position(ledger: TrialLedger) -> int:
    return next(r.position for r in ledger.store.iter_chain() if r.leaf_index == 2)


def test_a_clean_log_passes_and_says_what_each_check_proved(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    append(ledger, 2)
    issue_checkpoint(engine, settings)
    append(ledger, 3)
    result = verify_store(ledger.store, settings)
    assert result.ok, result.lines()
    assert result.checkpoints.checked == 2 and result.checkpoints.newest_size == 12
    lines = result.lines()
    assert lines[0] == "chain: 15 events linked"
    assert lines[1] == "checkpoints: 2 signed checkpoints consistent, newest size 12"
    assert any("the 3 events after the newest checkpoint (leaves 12 to 14)" in line
               for line in lines)
    assert any("without --checkpoint FILE or --head" in line for line in lines)


def test_plain_verify_catches_and_names_the_full_rewrite_of_a_checkpointed_event(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    append(ledger, 2)  # a later checkpoint covers the event too
    issue_checkpoint(engine, settings)
    rewrite_and_rechain(engine, ledger.store, 2, DOSE_20, DOSE_200)
    assert verify_ledger(ledger.store).ok  # the chain alone is fooled
    result = verify_store(ledger.store, settings)
    assert not result.ok
    report = result.checkpoints
    assert report.first_bad_leaf_index == 2
    assert report.first_bad_event == {"leaf_index": 2, "stream_id": "HCC-01-001",
                                      "version": 2, "position": dose_position(ledger)}
    assert "checkpoint #1 (tree size 10)" in (report.problem or "")
    assert "first rewritten leaf is leaf 2 (HCC-01-001 v2" in (report.problem or "")
    assert result.as_dict()["ok"] is False
    assert result.lines()[1].startswith("checkpoints: FAILED: checkpoint #1")


def test_a_rewrite_after_the_newest_checkpoint_is_the_stated_limit(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    write_story(ledger)
    issue_checkpoint(engine, settings)
    post_dose(ledger)  # leaf 6, after the newest checkpoint
    rewrite_and_rechain(engine, ledger.store, 6, DOSE_20, DOSE_200)
    result = verify_store(ledger.store, settings)
    assert result.ok  # undetectable without a later checkpoint ...
    assert any("the 1 events after the newest checkpoint (leaves 6 to 6)" in line
               for line in result.lines())  # ... and the output says so


def test_a_cut_below_a_stored_checkpoint_is_caught_by_plain_verify(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    col, last = position_column(engine), max(r.position for r in ledger.store.iter_chain())
    tamper(engine, f"DELETE FROM stored_events WHERE {col} = {last}",
           f"DELETE FROM ledger_chain WHERE position = {last}")
    assert verify_ledger(ledger.store).ok
    result = verify_store(ledger.store, settings)
    assert not result.ok
    assert "the log has 9 events, fewer than the 10 it signed" in (
        result.checkpoints.problem or "")


def test_an_edited_stored_checkpoint_row_fails(ledger: TrialLedger, engine: sa.Engine,
                                               settings: Settings) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    lift_merkle_guards(engine, "UPDATE ledger_checkpoints SET tree_size = 9")
    result = verify_store(ledger.store, settings)
    assert not result.ok and "row disagrees with its signed body" in (
        result.checkpoints.problem or "")


def test_a_checkpoint_signed_by_another_key_fails(ledger: TrialLedger, engine: sa.Engine,
                                                  settings: Settings, tmp_path: Path) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    other = tmp_path / "other.pem"
    checkpoint_format.save_private_key(checkpoint_format.generate_private_key(), other)
    issue_checkpoint(engine, settings.model_copy(update={"signing_key_file": other}))
    result = verify_store(ledger.store, settings)
    assert not result.ok
    assert "checkpoint #2" in (result.checkpoints.problem or "")
    assert "does not verify with the configured key" in (result.checkpoints.problem or "")


def test_a_forged_checkpoint_beyond_the_log_is_named_as_forged_not_as_a_cut(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    write_story(ledger)
    issue_checkpoint(engine, settings)  # a genuine one, signed with the configured key
    other = checkpoint_format.generate_private_key()
    body = checkpoint_format.checkpoint_body("trial-ledger", 99, bytes(32))
    lift_merkle_guards(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO ledger_checkpoints (origin, tree_size, root_hash, issued_at, key_id, "
            "body, signature) VALUES ('trial-ledger', 99, :root, '2026-01-01T00:00:00.000000Z', "
            "'forged', :body, :signature)"),
            {"root": bytes(32), "body": body,
             "signature": checkpoint_format.sign_body(other, body)})
    result = verify_store(ledger.store, settings)
    assert not result.ok and result.checkpoints.checkpoint_id == 2
    assert "does not verify with the configured key" in (result.checkpoints.problem or "")


def test_a_rewrite_with_the_merkle_leaves_rebuilt_is_caught_and_bounded(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    rewrite_and_rechain(engine, ledger.store, 2, DOSE_20, DOSE_200)
    lift_merkle_guards(engine, "DELETE FROM merkle_nodes")
    assert MerkleStore(engine).sync() == 10  # a tree over the rewritten chain
    result = verify_store(ledger.store, settings)
    assert not result.ok and result.checkpoints.first_bad_leaf_index is None
    assert "lies between leaf 0 and leaf 9" in (result.checkpoints.problem or "")


def test_a_deleted_chain_row_is_named_as_deleted(ledger: TrialLedger, engine: sa.Engine
                                                 ) -> None:
    recorded = write_story(ledger)
    tamper(engine, f"DELETE FROM ledger_chain WHERE position = {recorded[2].position}")
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == recorded[2].position
    assert report.first_bad_leaf_index == 2
    assert "its chain row (leaf 2) is missing" in (report.problem or "")
    assert "the chain row was deleted" in (report.problem or "")
    assert "inserted outside the ledger" not in (report.problem or "")


def test_the_last_chain_row_deleted_is_named_from_the_merkle_tree(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    MerkleStore(engine).sync()
    tamper(engine, f"DELETE FROM ledger_chain WHERE position = {recorded[-1].position}")
    report = verify_ledger(ledger.store)
    assert not report.ok and report.first_bad_position == recorded[-1].position
    assert "although the Merkle tree holds that leaf: the chain row was deleted" in (
        report.problem or "")


def test_the_cli_catches_the_full_rewrite_without_a_checkpoint_file(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(settings.resolved_secrets_dir())}
    command = [sys.executable, "-m", "services.cli", "verify"]
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    clean = run_cli(command, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "chain: 10 events linked" in clean.stderr
    assert "checkpoints: 1 signed checkpoints consistent, newest size 10" in clean.stderr
    rewrite_and_rechain(engine, ledger.store, 2, DOSE_20, DOSE_200)
    post(ledger, "HCC-01-002", story.follow_up("2026-02-01"))
    caught = run_cli(command, env)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    output = json.loads(caught.stdout)
    assert output["ok"] is False and output["events"] == 11  # the chain itself links
    assert output["stored_checkpoints"]["first_bad_leaf_index"] == 2
    assert "chain: 11 events linked" in caught.stderr
    assert "checkpoints: FAILED: checkpoint #1 (tree size 10)" in caught.stderr
    assert "leaf 2 (HCC-01-001 v2" in caught.stderr


def test_checkpoints_without_the_signing_key_cannot_pass(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings, tmp_path: Path) -> None:
    dose_story(ledger)
    issue_checkpoint(engine, settings)
    elsewhere = settings.model_copy(update={"secrets_dir": tmp_path / "empty"})
    result = verify_store(ledger.store, elsewhere)
    assert not result.ok and "cannot be authenticated" in (result.checkpoints.problem or "")
