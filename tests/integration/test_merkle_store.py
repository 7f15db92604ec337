"""The Merkle tree kept in SQL, signed checkpoints, and the attack the hash chain alone misses."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent

from infra.ledger import checkpoint_format, merkle, proofs
from infra.ledger.chain import ChainedRecord, link_hash
from infra.ledger.checkpoints import (
    KEY_FILE_NAME,
    SigningKeyError,
    checkpoint_of_size,
    checkpoint_periodically,
    configured_public_key,
    current_checkpoint,
    issue_checkpoint,
    latest_checkpoint,
    public_key_document,
    verify_against_checkpoint,
)
from infra.ledger.merkle_store import ChainForkError, MerkleStore, TreeSizeError
from infra.ledger.store import LedgerStore
from infra.ledger.verification import verify_store
from infra.ledger.verify import verify_ledger
from infra.settings import Settings
from services.application import TrialLedger
from tests import story
from tests.integration.conftest import position_column, post, tamper, write_story

_streams = itertools.count()


# --- A reference written straight from RFC 9162 §2.1, independent of infra/ledger/merkle.py ---


def ref_mth(hashes: list[bytes]) -> bytes:
    """MTH over event hashes D[n]: leaves hash 0x00 || d, nodes 0x01 || left || right."""
    if len(hashes) == 1:
        return hashlib.sha256(b"\x00" + hashes[0]).digest()
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:])).digest()


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    if m == len(hashes):
        return [] if whole else [ref_mth(hashes)]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    if m <= k:
        return ref_subproof(m, hashes[:k], whole) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


# --- helpers ---------------------------------------------------------------------------------


def append(ledger: TrialLedger, count: int) -> None:
    """Append `count` events in one transaction through the chained recorder."""
    stream = f"MERKLE-{next(_streams)}"
    ledger.recorder.insert_events([
        StoredEvent(stream, version, "tests:Blob", json.dumps(
            {"event_id": f"blob-{stream}-{version}", "n": version}).encode())
        for version in range(1, count + 1)])


def event_hashes(ledger: TrialLedger) -> list[bytes]:
    return [row.event_hash for row in ledger.store.iter_chain()]


def stored_nodes(engine: sa.Engine) -> set[tuple[int, int, bytes]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, node_index, hash FROM merkle_nodes"))
        return {(int(r[0]), int(r[1]), bytes(r[2])) for r in rows}


def expected_nodes(hashes: list[bytes]) -> set[tuple[int, int, bytes]]:
    tree = merkle.InMemoryNodes([merkle.leaf_hash(h) for h in hashes])
    return {(n.level, n.index, n.hash) for n in tree.nodes()}


def lift_merkle_guards(engine: sa.Engine, *statements: str) -> None:
    """A DBA who also rewrites the Merkle node table."""
    tamper(engine, *statements, tables=("merkle_nodes", "ledger_checkpoints"))


def rewrite_and_rechain(engine: sa.Engine, store: LedgerStore, leaf: int,
                        old: bytes, new: bytes) -> None:
    """THE ATTACK: change one event's stored bytes, then recompute every later chain hash so
    that the chain verifies again."""
    target = next(row for row in store.iter_chain() if row.leaf_index == leaf)
    col = position_column(engine)
    with engine.connect() as conn:
        state = bytes(conn.execute(sa.text(f"SELECT state FROM stored_events WHERE {col} = :p"),
                                   {"p": target.position}).scalar_one())
    assert old in state
    tamper(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE stored_events SET state = :s WHERE {col} = :p"),
                     {"s": state.replace(old, new), "p": target.position})
    stored = {row.position: row for row in store.iter_stored()}
    prev: bytes | None = None
    with engine.begin() as conn:
        for row in store.iter_chain():
            if row.leaf_index < leaf:
                continue
            prev = row.prev_hash if prev is None else prev
            event = stored[row.position]
            new_hash = link_hash(prev, ChainedRecord(row.leaf_index, row.position,
                                                     event.stream_id, event.version,
                                                     event.topic, row.recorded_at, event.state))
            conn.execute(sa.text("UPDATE ledger_chain SET prev_hash = :p, event_hash = :h "
                                 "WHERE leaf_index = :i"),
                         {"p": prev, "h": new_hash, "i": row.leaf_index})
            prev = new_hash


def dose_story(ledger: TrialLedger) -> None:
    """The six-event story plus four more events; leaf 2 is the 20 mg camrelizumab dose."""
    write_story(ledger)
    append(ledger, 4)


# --- the tree in SQL -------------------------------------------------------------------------


def test_roots_and_proofs_for_every_size_1_to_64_match_the_reference(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    tree = MerkleStore(engine)
    for size in range(1, 65):
        append(ledger, 1)
        assert tree.sync() == size
        assert tree.root(size) == ref_mth(event_hashes(ledger))
    hashes = event_hashes(ledger)
    leaves = [merkle.leaf_hash(h) for h in hashes]
    for size in range(1, 65):
        root = ref_mth(hashes[:size])
        assert tree.root(size) == root
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            assert path == ref_path(index, hashes[:size])
            assert proofs.verify_inclusion(leaves[index], index, size, path, root)
        for first in range(1, size + 1):
            proof = tree.consistency_proof(first, size)
            assert proof == ref_subproof(first, hashes[:size], True)
            assert proofs.verify_consistency(first, size, ref_mth(hashes[:first]), root, proof)


def test_sync_is_incremental_and_only_adds_nodes(ledger: TrialLedger, engine: sa.Engine
                                                 ) -> None:
    tree = MerkleStore(engine)
    assert tree.sync() == 0 and tree.root(0) == merkle.EMPTY_ROOT
    append(ledger, 10)
    assert tree.sync() == 10
    before = stored_nodes(engine)
    assert before == expected_nodes(event_hashes(ledger)) and len(before) == 2 * 10 - 2
    append(ledger, 7)
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    sa.event.listen(engine, "before_cursor_execute", record)
    assert tree.sync() == 17
    sa.event.remove(engine, "before_cursor_execute", record)
    after = stored_nodes(engine)
    assert before < after and after == expected_nodes(event_hashes(ledger))
    assert len(after) == 2 * 17 - (17).bit_count()
    chain_reads = [params for sql, params in statements
                   if "FROM ledger_chain" in sql and "prev_hash" in sql]
    assert chain_reads, "the sync read the new chain rows"
    for params in chain_reads:  # from leaf 10 on, never the leaves already in the tree
        assert 10 in (params.values() if isinstance(params, dict) else params)
    assert not any("UPDATE" in sql or "DELETE" in sql for sql, _ in statements)
    assert tree.sync() == 17 and stored_nodes(engine) == after


def test_batches_of_any_size_build_the_same_tree(ledger: TrialLedger, engine: sa.Engine
                                                 ) -> None:
    tree = MerkleStore(engine)
    for batch in (1, 3, 8, 13, 2, 1, 32):
        append(ledger, batch)
        tree.sync()
    hashes = event_hashes(ledger)
    assert tree.size() == len(hashes) == 60
    assert stored_nodes(engine) == expected_nodes(hashes)
    assert tree.root(60) == ref_mth(hashes)


def test_concurrent_syncs_while_events_are_written_do_not_corrupt_the_tree(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    errors: list[Exception] = []
    writing = threading.Event()

    def writer() -> None:
        try:
            for batch in range(15):
                append(ledger, 1 + batch % 4)
        except Exception as error:  # noqa: BLE001  # reported by the assertion below
            errors.append(error)

    def syncer() -> None:
        try:
            while not writing.is_set():
                MerkleStore(engine).sync()
            MerkleStore(engine).sync()
        except Exception as error:  # noqa: BLE001  # reported by the assertion below
            errors.append(error)

    writers = [threading.Thread(target=writer) for _ in range(2)]
    syncers = [threading.Thread(target=syncer) for _ in range(4)]
    for thread in writers + syncers:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    writing.set()
    for thread in syncers:
        thread.join(timeout=120)
    assert not errors, errors
    hashes = event_hashes(ledger)
    assert MerkleStore(engine).sync() == len(hashes) == 2 * sum(1 + b % 4 for b in range(15))
    assert stored_nodes(engine) == expected_nodes(hashes)


def test_sizes_beyond_the_stored_tree_are_refused(ledger: TrialLedger, engine: sa.Engine
                                                  ) -> None:
    append(ledger, 5)
    tree = MerkleStore(engine)
    with pytest.raises(TreeSizeError, match="beyond the stored tree of 0 leaves"):
        tree.root(5)
    tree.sync()
    with pytest.raises(TreeSizeError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(TreeSizeError):
        tree.consistency_proof(4, 6)
    with pytest.raises(TreeSizeError):
        tree.consistency_proof(5, 4)


def test_nodes_and_checkpoints_are_append_only(ledger: TrialLedger, engine: sa.Engine,
                                               settings: Settings) -> None:
    append(ledger, 3)
    issue_checkpoint(engine, settings)
    for statement in ("UPDATE merkle_nodes SET hash = hash",
                      "DELETE FROM merkle_nodes",
                      "UPDATE ledger_checkpoints SET tree_size = 99",
                      "DELETE FROM ledger_checkpoints"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    if engine.dialect.name == "postgresql":
        for table in ("merkle_nodes", "ledger_checkpoints"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {table}"))


def test_sync_refuses_a_chain_rewritten_below_the_stored_tree(
        ledger: TrialLedger, engine: sa.Engine) -> None:
    dose_story(ledger)
    MerkleStore(engine).sync()
    rewrite_and_rechain(engine, ledger.store, 2, b'"dose_mg":20.0', b'"dose_mg":200.0')
    append(ledger, 1)  # links to the rewritten head
    with pytest.raises(ChainForkError, match="chain leaf 10 does not link"):
        MerkleStore(engine).sync()


def test_each_event_is_found_by_its_event_id(ledger: TrialLedger, engine: sa.Engine) -> None:
    recorded = write_story(ledger)
    tree = MerkleStore(engine)
    for leaf, event in enumerate(recorded):
        found = tree.find_event(event.event_id)
        assert found is not None and found.leaf_index == leaf
        assert (found.stream_id, found.version, found.position) == (
            event.participant_id, event.version, event.position)
    # the correction names the dose's event_id in its data, but is found only by its own
    assert tree.find_event(recorded[2].event_id).leaf_index == 2  # type: ignore[union-attr]
    assert tree.find_event("00000000-0000-4000-8000-000000000000") is None


# --- checkpoints -----------------------------------------------------------------------------


def test_a_checkpoint_is_signed_with_a_key_kept_outside_the_database(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    write_story(ledger)
    checkpoint = issue_checkpoint(engine, settings)
    assert checkpoint.tree_size == 6
    assert checkpoint.root_hash == ref_mth(event_hashes(ledger))
    assert checkpoint.body == checkpoint_format.checkpoint_body("trial-ledger", 6,
                                                                checkpoint.root_hash,
                                                                checkpoint.timestamp)
    assert checkpoint.body.endswith(f"\ntimestamp: {checkpoint.timestamp}\n")
    document = public_key_document(settings)
    raw = base64.b64decode(document["public_key"])
    assert document["algorithm"] == "Ed25519" and document["key_id"] == checkpoint.key_id
    assert checkpoint_format.verify_checkpoint(raw, checkpoint.body, checkpoint.signature)
    assert latest_checkpoint(engine) == checkpoint
    key_file = settings.resolved_secrets_dir() / KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    private = checkpoint_format.load_private_key(key_file)
    secret_bytes = private.private_bytes_raw()
    pem_lines = key_file.read_text().splitlines()[1:-1]
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                for value in row:
                    blob = value if isinstance(value, bytes) else str(value).encode()
                    assert secret_bytes not in blob
                    assert not any(line.encode() in blob for line in pem_lines)


def test_the_configured_key_file_signs_and_a_missing_one_is_an_error(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings, tmp_path: Path) -> None:
    key = checkpoint_format.generate_private_key()
    path = tmp_path / "ops-key.pem"
    checkpoint_format.save_private_key(key, path)
    configured = settings.model_copy(update={"signing_key_file": path,
                                             "ledger_origin": "trial-ledger/hcc.example"})
    append(ledger, 2)
    checkpoint = issue_checkpoint(engine, configured)
    assert checkpoint.origin == "trial-ledger/hcc.example"
    assert checkpoint.key_id == checkpoint_format.key_id(checkpoint_format.public_key_raw(key))
    assert configured_public_key(configured) == checkpoint_format.public_key_raw(key)
    assert not (settings.resolved_secrets_dir() / KEY_FILE_NAME).exists()
    missing = settings.model_copy(update={"signing_key_file": tmp_path / "absent.pem"})
    with pytest.raises(SigningKeyError, match="does not exist"):
        issue_checkpoint(engine, missing)
    assert configured_public_key(missing) is None


def test_the_current_checkpoint_is_reused_until_the_log_grows(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    append(ledger, 3)
    first = current_checkpoint(engine, settings)
    assert current_checkpoint(engine, settings) == first
    append(ledger, 2)
    second = current_checkpoint(engine, settings)
    assert second.tree_size == 5 and second != first


def test_the_worker_loop_issues_checkpoints_as_the_log_grows(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    append(ledger, 3)
    stop = threading.Event()
    worker = threading.Thread(target=checkpoint_periodically,
                              args=(engine, settings, stop, 0.05))
    worker.start()
    try:
        for _ in range(400):
            latest = latest_checkpoint(engine)
            if latest is not None and latest.tree_size == 3:
                break
            stop.wait(0.05)
        append(ledger, 2)
        for _ in range(400):
            latest = latest_checkpoint(engine)
            if latest is not None and latest.tree_size == 5:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert latest is not None and latest.tree_size == 5 and not worker.is_alive()


def test_a_saved_checkpoint_verifies_as_the_log_grows(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    write_story(ledger)
    saved = issue_checkpoint(engine, settings).as_dict()
    append(ledger, 9)
    report = verify_against_checkpoint(ledger.store, saved,
                                       public_key=configured_public_key(settings),
                                       expected_origin="trial-ledger")
    assert report.ok, report.problem
    assert (report.tree_size, report.log_size) == (6, 15)
    assert report.signature_ok and report.root_matches and report.consistent


def _forgeries(saved: dict[str, Any]) -> dict[str, dict[str, Any]]:
    signature = bytearray(base64.b64decode(saved["signature"]))
    signature[7] ^= 1
    other = checkpoint_format.generate_private_key()
    body = saved["body"]
    grown = body.replace("\n6\n", "\n7\n")
    other_root = checkpoint_format.checkpoint_body("trial-ledger", 6, bytes(32))
    return {
        "flipped signature bit": {**saved, "signature": base64.b64encode(signature).decode()},
        "size changed in the body": {**saved, "body": grown, "tree_size": 7},
        "root changed in the body": {**saved, "body": other_root,
                                     "root_hash": base64.b64encode(bytes(32)).decode()},
        "signed by another key": {**saved, "signature": base64.b64encode(
            checkpoint_format.sign_body(other, body)).decode()},
        "another key pinned in the file": {
            **saved, "body": other_root, "root_hash": base64.b64encode(bytes(32)).decode(),
            "signature": base64.b64encode(checkpoint_format.sign_body(other, other_root)
                                          ).decode(),
            "public_key": base64.b64encode(checkpoint_format.public_key_raw(other)).decode()},
        "size field disagrees with the body": {**saved, "tree_size": 5},
        "timestamp changed in the body": {**saved, "body": body.replace(
            saved["timestamp"], "2099-01-01T00:00:00.000000Z")},
        "timestamp field disagrees with the body": {
            **saved, "timestamp": "2099-01-01T00:00:00.000000Z"},
    }


def store_old_form_checkpoint(engine: sa.Engine, settings: Settings, size: int,
                              issued_at: str = "2026-01-20T09:30:00.000000Z") -> dict[str, Any]:
    """A checkpoint row as it was stored before the timestamp line: a three-line body."""
    MerkleStore(engine).sync()
    root = MerkleStore(engine).root(size)
    key = checkpoint_format.load_private_key(settings.resolved_secrets_dir() / KEY_FILE_NAME)
    body = checkpoint_format.checkpoint_body("trial-ledger", size, root)
    signature = checkpoint_format.sign_body(key, body)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO ledger_checkpoints (origin, tree_size, root_hash, issued_at, key_id, "
            "body, signature) VALUES ('trial-ledger', :size, :root, :at, :key_id, :body, "
            ":signature)"),
            {"size": size, "root": root, "at": issued_at, "body": body, "signature": signature,
             "key_id": checkpoint_format.key_id(checkpoint_format.public_key_raw(key))})
    return {"origin": "trial-ledger", "tree_size": size,
            "root_hash": base64.b64encode(root).decode(), "timestamp": issued_at,
            "key_id": checkpoint_format.key_id(checkpoint_format.public_key_raw(key)),
            "body": body, "signature": base64.b64encode(signature).decode()}


def test_old_form_checkpoints_still_verify_beside_new_ones(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings, tmp_path: Path) -> None:
    write_story(ledger)
    issue_checkpoint(engine, settings)  # generates the key; a new-form checkpoint of 6
    old = store_old_form_checkpoint(engine, settings, 4)
    assert old["body"].count("\n") == 3 and "timestamp" not in old["body"]
    append(ledger, 3)
    issue_checkpoint(engine, settings)
    result = verify_store(ledger.store, settings)
    assert result.ok, result.lines()
    assert result.checkpoints.checked == 3
    report = verify_against_checkpoint(ledger.store, old,
                                       public_key=configured_public_key(settings),
                                       expected_origin="trial-ledger")
    assert report.ok and report.tree_size == 4, report.problem
    # its unsigned time may say anything: only the signed lines count
    assert verify_against_checkpoint(ledger.store, {**old, "timestamp": "x"},
                                     public_key=configured_public_key(settings)).ok
    key = tmp_path / "key.json"
    key.write_text(json.dumps(public_key_document(settings)))
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(old))
    offline = subprocess.run([sys.executable, "-m", "infra.ledger.proofs", "checkpoint",
                              str(saved), "--public-key", str(key)], capture_output=True,
                             text=True, timeout=60, check=False,
                             cwd=Path(__file__).resolve().parents[2])
    assert offline.returncode == 0, offline.stderr
    assert "its time is not signed" in offline.stdout


def test_a_stored_checkpoints_signed_time_cannot_be_edited_in_its_row(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    write_story(ledger)
    issue_checkpoint(engine, settings)
    assert verify_store(ledger.store, settings).ok
    lift_merkle_guards(engine, "UPDATE ledger_checkpoints SET issued_at = "
                               "'2020-01-01T00:00:00.000000Z'")
    result = verify_store(ledger.store, settings)
    assert not result.ok
    assert "row disagrees with its signed body (which says issued at" in (
        result.checkpoints.problem or "")


def test_the_checkpoint_of_a_size_is_the_newest_stored_one(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    append(ledger, 3)
    assert checkpoint_of_size(engine, 3) is None
    first = issue_checkpoint(engine, settings)
    again = issue_checkpoint(engine, settings)
    assert checkpoint_of_size(engine, 3) == again != first
    assert checkpoint_of_size(engine, 2) is None


def test_forged_checkpoints_are_rejected(ledger: TrialLedger, engine: sa.Engine,
                                         settings: Settings) -> None:
    write_story(ledger)
    saved = issue_checkpoint(engine, settings).as_dict()
    key = configured_public_key(settings)
    assert verify_against_checkpoint(ledger.store, saved, public_key=key).ok
    for name, forged in _forgeries(saved).items():
        report = verify_against_checkpoint(ledger.store, forged, public_key=key)
        assert not report.ok, name
        assert report.problem, name
    unsigned = verify_against_checkpoint(ledger.store, saved, public_key=None)
    assert not unsigned.ok and "no public key" in (unsigned.problem or "")
    elsewhere = verify_against_checkpoint(ledger.store, saved, public_key=key,
                                          expected_origin="trial-ledger/other")
    assert not elsewhere.ok and "not this log" in (elsewhere.problem or "")
    malformed = verify_against_checkpoint(ledger.store, {"body": "x", "signature": "!"},
                                          public_key=key)
    assert not malformed.ok and "malformed" in (malformed.problem or "")


# --- THE ATTACK: rewrite one event and recompute every later chain hash -----------------------


def _attack(ledger: TrialLedger, engine: sa.Engine, settings: Settings
            ) -> tuple[dict[str, Any], int]:
    dose_story(ledger)
    saved = issue_checkpoint(engine, settings).as_dict()
    dose = next(r for r in ledger.store.iter_chain() if r.leaf_index == 2)
    rewrite_and_rechain(engine, ledger.store, 2, b'"dose_mg":20.0', b'"dose_mg":200.0')
    chain = verify_ledger(ledger.store)
    assert chain.ok and chain.events == 10, "the chain alone no longer sees the edit"
    return saved, dose.position


def test_the_attack_the_chain_misses_is_caught_against_a_saved_checkpoint(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    saved, position = _attack(ledger, engine, settings)
    report = verify_against_checkpoint(ledger.store, saved,
                                       public_key=configured_public_key(settings))
    assert not report.ok and report.signature_ok and not report.root_matches
    assert report.first_bad_leaf_index == 2
    assert report.first_bad_event == {"leaf_index": 2, "stream_id": "HCC-01-001",
                                      "version": 2, "position": position}
    assert "first differing leaf is leaf 2 (HCC-01-001 v2" in (report.problem or "")


def run_cli(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120,
                          check=False)


def test_the_attack_is_caught_by_the_cli(ledger: TrialLedger, engine: sa.Engine,
                                         settings: Settings, store_url: str,
                                         tmp_path: Path) -> None:
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": store_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(settings.resolved_secrets_dir())}
    command = [sys.executable, "-m", "services.cli", "verify", "--checkpoint",
               str(tmp_path / "checkpoint.json")]
    dose_story(ledger)
    (tmp_path / "checkpoint.json").write_text(
        json.dumps(issue_checkpoint(engine, settings).as_dict()))
    clean = run_cli(command, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["checkpoint"]["ok"] is True
    rewrite_and_rechain(engine, ledger.store, 2, b'"dose_mg":20.0', b'"dose_mg":200.0')
    caught = run_cli(command, env)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    output = json.loads(caught.stdout)
    assert output["ok"] is False and output["events"] == 10 and output["head"]  # chain: fine
    assert output["checkpoint"]["first_bad_leaf_index"] == 2
    assert "leaf 2 (HCC-01-001 v2" in output["checkpoint"]["problem"]
    unreadable = run_cli([*command[:-1], str(tmp_path / "absent.json")], env)
    assert unreadable.returncode == 2 and "cannot read" in unreadable.stderr


def test_the_attack_is_caught_after_more_events_were_written(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    saved, _ = _attack(ledger, engine, settings)
    append(ledger, 3)  # the recorder links new events to the rewritten head
    assert verify_ledger(ledger.store).ok
    report = verify_against_checkpoint(ledger.store, saved,
                                       public_key=configured_public_key(settings))
    assert not report.ok and report.first_bad_leaf_index == 2 and report.log_size == 13


def test_an_event_added_after_the_checkpoint_and_then_rewritten_is_named(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    write_story(ledger)
    saved = issue_checkpoint(engine, settings).as_dict()
    dose = post_dose(ledger)
    MerkleStore(engine).sync()
    rewrite_and_rechain(engine, ledger.store, 6, b'"dose_mg":20.0', b'"dose_mg":200.0')
    report = verify_against_checkpoint(ledger.store, saved,
                                       public_key=configured_public_key(settings))
    assert not report.ok and report.root_matches and report.consistent
    assert report.first_bad_leaf_index == 6 and report.first_bad_event is not None
    assert report.first_bad_event["position"] == dose


def post_dose(ledger: TrialLedger) -> int:
    return post(ledger, "HCC-01-002", story.camrelizumab("2026-01-14", dose_mg=20)).position


def test_a_dba_who_also_rebuilds_the_merkle_nodes_is_still_caught(
        ledger: TrialLedger, engine: sa.Engine, settings: Settings) -> None:
    saved, _ = _attack(ledger, engine, settings)
    lift_merkle_guards(engine, "DELETE FROM merkle_nodes")
    assert MerkleStore(engine).sync() == 10  # a tree over the rewritten chain
    report = verify_against_checkpoint(ledger.store, saved,
                                       public_key=configured_public_key(settings))
    assert not report.ok and not report.root_matches and not report.consistent
    assert "neither do the stored Merkle leaves" in (report.problem or "")


def test_a_truncated_log_is_caught(ledger: TrialLedger, engine: sa.Engine,
                                   settings: Settings) -> None:
    dose_story(ledger)
    saved = issue_checkpoint(engine, settings).as_dict()
    col = position_column(engine)
    last = max(row.position for row in ledger.store.iter_chain())
    tamper(engine, f"DELETE FROM stored_events WHERE {col} = {last}",
           f"DELETE FROM ledger_chain WHERE position = {last}")
    assert verify_ledger(ledger.store).ok  # the chain alone cannot tell a shorter log
    report = verify_against_checkpoint(ledger.store, saved,
                                       public_key=configured_public_key(settings))
    assert not report.ok and "fewer than the 10" in (report.problem or "")
