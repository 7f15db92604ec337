"""Checkpoints and Merkle proofs over HTTP, checked as an auditor would: offline, with the
stand-alone verifier and the published public key only. Each proof answer carries its root and
the signed checkpoint it is checked against, so the answer alone can be checked."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.ledger import checkpoint_format, merkle, proofs
from tests import story
from tests.api.conftest import Api

LEDGER = "/api/v1/ledger"
UNKNOWN_EVENT = "00000000-0000-4000-8000-000000000000"


def post_story(api: Api) -> list[dict[str, Any]]:
    bodies = [("HCC-01-001", story.enrollment()),
              ("HCC-01-001", story.camrelizumab("2026-01-12")),
              ("HCC-01-002", story.enrollment(on="2026-01-11")),
              ("HCC-01-002", story.tace("2026-01-13")),
              ("HCC-01-001", story.adverse_event("AE1", "2026-01-20"))]
    events = []
    for participant, body in bodies:
        response = api.post(participant, body)
        assert response.status_code == 201, response.text
        events.append(response.json())
    issue(api)  # what the projection worker does on its schedule
    return events


def issue(api: Api) -> dict[str, Any]:
    """A new signed checkpoint of the whole log (POST; reads never issue one)."""
    response = api.client.post(f"{LEDGER}/checkpoints", headers=api.headers("dm"))
    assert response.status_code == 201, response.text
    checkpoint: dict[str, Any] = response.json()
    return checkpoint


def latest(api: Api) -> dict[str, Any]:
    response = api.get(f"{LEDGER}/checkpoints/latest", user="auditor")
    assert response.status_code == 200, response.text
    checkpoint: dict[str, Any] = response.json()
    return checkpoint


def inclusion(api: Api, event_id: str, **params: Any) -> Any:
    return api.get(f"{LEDGER}/proofs/inclusion", user="auditor", event_id=event_id, **params)


def public_key(api: Api) -> bytes:
    response = api.get(f"{LEDGER}/public-key", user="auditor")
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["public_key"])


def signed_part(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as a proof answer carries it (without `events_after`)."""
    return {k: v for k, v in checkpoint.items() if k != "events_after"}


def flipped(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return base64.b64encode(raw).decode()


def test_the_latest_checkpoint_is_signed_by_the_published_key(api: Api) -> None:
    post_story(api)
    checkpoint = latest(api)
    key = api.get(f"{LEDGER}/public-key", user="auditor").json()
    assert set(checkpoint) >= {"origin", "tree_size", "root_hash", "timestamp", "key_id",
                               "body", "signature"}
    assert key["algorithm"] == "Ed25519" and key["key_id"] == checkpoint["key_id"]
    size = checkpoint["tree_size"]
    assert size >= 7 + 5  # the accounts, the five events and whatever else the log holds
    assert size <= api.ledger_state()[0]
    assert checkpoint["body"] == (f"{checkpoint['origin']}\n{size}\n{checkpoint['root_hash']}\n"
                                  f"timestamp: {checkpoint['timestamp']}\n")  # time is signed
    assert checkpoint["timestamp"].endswith("Z")
    public_key = base64.b64decode(key["public_key"])
    assert len(public_key) == 32
    assert checkpoint_format.verify_checkpoint(public_key, checkpoint["body"],
                                               base64.b64decode(checkpoint["signature"]))
    assert checkpoint["events_after"] == api.ledger_state()[0] - size
    api.post("HCC-01-002", story.follow_up("2026-02-01"))
    again = latest(api)  # a read issues nothing: the same checkpoint, one event behind
    assert {k: v for k, v in again.items() if k != "events_after"} == {
        k: v for k, v in checkpoint.items() if k != "events_after"}
    assert again["events_after"] == checkpoint["events_after"] + 1


def test_latest_checkpoint_is_a_404_problem_saying_how_one_is_made(api: Api) -> None:
    response = api.get(f"{LEDGER}/checkpoints/latest", user="auditor")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "POST /api/v1/ledger/checkpoints" in response.json()["detail"]
    assert "trial-ledger project --checkpoint-every" in response.json()["detail"]
    assert api.get(f"{LEDGER}/proofs/consistency", user="auditor", first=0).status_code == 404


def test_proofs_beyond_the_last_checkpoints_tree_are_refused_without_growing_it(api: Api
                                                                               ) -> None:
    events = post_story(api)
    size = latest(api)["tree_size"]
    api.post("HCC-01-002", story.follow_up("2026-02-01"))
    response = api.get(f"{LEDGER}/proofs/consistency", user="auditor", first=1,
                       second=size + 1)
    assert response.status_code == 422
    assert "beyond the Merkle tree" in response.json()["detail"]
    response = inclusion(api, events[0]["event_id"], tree_size=size + 1)
    assert response.status_code == 422 and "query.tree_size" in [
        e["loc"] for e in response.json()["errors"]]
    assert inclusion(api, events[0]["event_id"], tree_size=size).status_code == 200


def test_inclusion_answers_carry_everything_an_offline_check_needs(api: Api) -> None:
    events = post_story(api)
    checkpoint = latest(api)
    key = public_key(api)
    for event in events:
        proof = inclusion(api, event["event_id"], tree_size=checkpoint["tree_size"]).json()
        assert proof["tree_size"] == checkpoint["tree_size"]
        assert proof["event_id"] == event["event_id"]
        assert (proof["event_hash"], proof["position"]) == (event["hash"], event["position"])
        assert (proof["stream_id"], proof["version"]) == (event["participant_id"],
                                                          event["version"])
        assert proof["recorded_at"] == event["recorded_at"]
        assert proof["leaf_hash_rule"] == "SHA-256(0x00 || event_hash)"
        assert base64.b64decode(proof["leaf_hash"]) == merkle.leaf_hash(
            bytes.fromhex(event["hash"]))
        assert proof["root_hash"] == checkpoint["root_hash"]
        assert proof["checkpoint"] == signed_part(checkpoint)
        assert proofs.check_inclusion_document(proof)
        verdict = proofs.check_inclusion(proof, key, event_hash=bytes.fromhex(event["hash"]))
        assert verdict.startswith(f"ok: event {event['event_id']} (leaf {proof['leaf_index']}")
    first = inclusion(api, events[0]["event_id"], tree_size=checkpoint["tree_size"]).json()
    assert first["prev_hash"] != "00" * 32 and len(first["prev_hash"]) == 64
    default = inclusion(api, events[-1]["event_id"]).json()  # the latest checkpoint's size
    assert default["tree_size"] >= checkpoint["tree_size"]
    assert default["leaf_index"] == proof["leaf_index"]


def test_an_inclusion_proof_for_an_older_checkpoint_verifies_against_its_root(api: Api
                                                                             ) -> None:
    events = post_story(api)
    older = latest(api)
    api.post("HCC-01-002", story.follow_up("2026-02-01"))
    newer = issue(api)
    assert newer["tree_size"] > older["tree_size"]
    for checkpoint in (older, newer):
        proof = inclusion(api, events[1]["event_id"], tree_size=checkpoint["tree_size"]).json()
        assert proof["checkpoint"] == signed_part(checkpoint)
        assert proofs.check_inclusion(proof, public_key(api))
    stale = inclusion(api, events[1]["event_id"], tree_size=older["tree_size"]).json()
    assert not proofs.check_inclusion_document({**stale, "root_hash": newer["root_hash"]})
    with pytest.raises(proofs.ProofFailed, match="signs"):
        proofs.check_inclusion(stale, public_key(api), checkpoint=signed_part(newer))


def test_a_size_without_a_stored_checkpoint_says_so_and_takes_a_kept_one(api: Api) -> None:
    events = post_story(api)
    size = latest(api)["tree_size"]
    proof = inclusion(api, events[0]["event_id"], tree_size=size - 1).json()
    assert proof["tree_size"] == size - 1 and proof["checkpoint"] is None
    assert proofs.check_inclusion_document(proof)  # the tree's own root, not yet signed
    with pytest.raises(proofs.MalformedProofError, match="--checkpoint FILE"):
        proofs.check_inclusion(proof, public_key(api))
    consistency = api.get(f"{LEDGER}/proofs/consistency", user="auditor", first=size - 1,
                          second=size).json()
    assert consistency["first_checkpoint"] is None
    assert consistency["second_checkpoint"] == signed_part(latest(api))
    with pytest.raises(proofs.MalformedProofError, match="nothing vouches"):
        proofs.check_consistency(consistency, public_key(api))
    assert proofs.check_consistency(consistency, public_key(api),
                                    first_root=base64.b64decode(consistency["first_root"]))


def test_a_consistency_proof_links_an_older_checkpoint_to_a_newer_one(api: Api) -> None:
    post_story(api)
    older = latest(api)
    api.post("HCC-01-002", story.follow_up("2026-02-01"))
    issued = api.client.post(f"{LEDGER}/checkpoints", headers=api.headers("dm"))
    assert issued.status_code == 201
    newer = issued.json()
    assert newer["tree_size"] > older["tree_size"]
    response = api.get(f"{LEDGER}/proofs/consistency", user="auditor",
                       first=older["tree_size"], second=newer["tree_size"])
    proof = response.json()
    assert (proof["first"], proof["second"]) == (older["tree_size"], newer["tree_size"])
    assert (proof["first_root"], proof["second_root"]) == (older["root_hash"],
                                                           newer["root_hash"])
    assert proof["first_checkpoint"] == signed_part(older)
    assert proof["second_checkpoint"] == signed_part(newer)
    assert proofs.check_consistency(proof, public_key(api)).startswith("ok: log")
    document = {**proof, "first_root": older["root_hash"], "second_root": newer["root_hash"]}
    assert proofs.check_consistency_document(document)
    assert not proofs.check_consistency_document({**document, "first_root": flipped(
        older["root_hash"])})
    default = api.get(f"{LEDGER}/proofs/consistency", user="auditor",
                      first=older["tree_size"]).json()
    assert default["first"] == older["tree_size"] and default["second"] >= newer["tree_size"]
    empty = api.get(f"{LEDGER}/proofs/consistency", user="auditor", first=0).json()
    assert empty["first_checkpoint"] is None and empty["proof"] == []
    assert empty["first_root"] == base64.b64encode(merkle.EMPTY_ROOT).decode()
    assert proofs.check_consistency(empty, public_key(api))


def test_tampered_proofs_are_rejected_by_the_stand_alone_verifier(api: Api) -> None:
    events = post_story(api)
    checkpoint = latest(api)
    proof = inclusion(api, events[2]["event_id"], tree_size=checkpoint["tree_size"]).json()
    assert proofs.check_inclusion_document(proof)
    for position in range(len(proof["audit_path"])):
        path = list(proof["audit_path"])
        path[position] = flipped(path[position])
        assert not proofs.check_inclusion_document({**proof, "audit_path": path})
    assert not proofs.check_inclusion_document({**proof, "leaf_hash": flipped(
        proof["leaf_hash"])})
    assert not proofs.check_inclusion_document({**proof, "leaf_index": proof["leaf_index"] + 1})
    assert not proofs.check_inclusion_document({**proof, "audit_path": proof["audit_path"][1:]})
    assert not proofs.check_inclusion_document({**proof, "root_hash": flipped(
        checkpoint["root_hash"])})


def test_forged_checkpoints_fail_against_the_published_key(api: Api) -> None:
    post_story(api)
    checkpoint = latest(api)
    key = base64.b64decode(api.get(f"{LEDGER}/public-key", user="auditor").json()["public_key"])
    signature = base64.b64decode(checkpoint["signature"])
    grown = checkpoint["body"].replace(f"\n{checkpoint['tree_size']}\n",
                                       f"\n{checkpoint['tree_size'] + 1}\n")
    other = checkpoint_format.generate_private_key()
    assert not checkpoint_format.verify_checkpoint(key, grown, signature)
    assert not checkpoint_format.verify_checkpoint(
        key, checkpoint["body"], base64.b64decode(flipped(checkpoint["signature"])))
    assert not checkpoint_format.verify_checkpoint(
        key, checkpoint["body"], checkpoint_format.sign_body(other, checkpoint["body"]))


def test_the_auditor_checks_proofs_with_the_verifier_file_alone(api: Api, tmp_path: Path
                                                                ) -> None:
    events = post_story(api)
    older = latest(api)
    api.post("HCC-01-002", story.follow_up("2026-02-01"))
    newer = issue(api)
    verifier = tmp_path / "proofs.py"
    shutil.copy(Path(proofs.__file__), verifier)
    key_file = tmp_path / "key.json"
    key_file.write_bytes(api.get(f"{LEDGER}/public-key", user="auditor").content)
    included = inclusion(api, events[1]["event_id"], tree_size=newer["tree_size"]).json()
    consistent = api.get(f"{LEDGER}/proofs/consistency", user="auditor",
                         first=older["tree_size"], second=newer["tree_size"]).json()
    for kind, document, status in (("inclusion", included, 0),
                                   ("consistency", consistent, 0),
                                   ("checkpoint", newer, 0),
                                   ("inclusion", {**included, "leaf_index": 0}, 1)):
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps(document))
        run = subprocess.run([sys.executable, "-I", str(verifier), kind, str(path),
                              "--public-key", str(key_file)],
                             capture_output=True, text=True, cwd=tmp_path, timeout=60,
                             check=False)
        assert run.returncode == status, run.stdout + run.stderr


@pytest.mark.parametrize("params, status, field, says", [
    ({"event_id": UNKNOWN_EVENT}, 404, None, "no event with event_id"),
    ({"event_id": "not-a-uuid"}, 422, "query.event_id", "String should match"),
    ({"event_id": "FIRST", "tree_size": 10_000}, 422, "query.tree_size",
     "tree_size 10000 is beyond the log"),
    ({"event_id": "LAST", "tree_size": 1}, 422, "query.tree_size",
     "which a tree of 1 leaves does not contain"),
    ({"event_id": "FIRST", "tree_size": 0}, 422, "query.tree_size", "greater than or equal"),
])
def test_bad_inclusion_requests_get_clear_problems(api: Api, params: dict[str, Any],
                                                   status: int, field: str | None, says: str
                                                   ) -> None:
    events = post_story(api)
    ids = {"FIRST": events[0]["event_id"], "LAST": events[-1]["event_id"]}
    asked = {**params, "event_id": ids.get(params["event_id"], params["event_id"])}
    response = api.get(f"{LEDGER}/proofs/inclusion", user="auditor", **asked)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert says in body["detail"]
    if field:
        assert field in [error["loc"] for error in body["errors"]]


@pytest.mark.parametrize("params, field, says", [
    ({"first": 3, "second": 2}, "query.first", "first (3) is larger than second (2)"),
    ({"first": 1, "second": 10_000}, "query.second", "second 10000 is beyond the log"),
    ({"first": -1, "second": 2}, "query.first", "greater than or equal"),
    ({"second": 2}, "query.first", "Field required"),
])
def test_bad_consistency_requests_get_clear_problems(api: Api, params: dict[str, Any],
                                                     field: str, says: str) -> None:
    post_story(api)
    response = api.get(f"{LEDGER}/proofs/consistency", user="auditor", **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert says in body["detail"] and field in [error["loc"] for error in body["errors"]]


def test_only_auditors_and_data_managers_get_checkpoints_and_proofs(api: Api) -> None:
    events = post_story(api)
    paths = [(f"{LEDGER}/checkpoints/latest", {}), (f"{LEDGER}/public-key", {}),
             (f"{LEDGER}/proofs/inclusion", {"event_id": events[0]["event_id"]}),
             (f"{LEDGER}/proofs/consistency", {"first": 1})]
    for path, params in paths:
        assert api.client.get(path, params=params).status_code == 401
        for user in ("coord1", "invest1", "monitor1", "admin"):
            response = api.get(path, user=user, **params)
            assert response.status_code == 403, (path, user)
            assert "may not verify ledger" in response.json()["detail"]
        for user in ("auditor", "dm"):
            assert api.get(path, user=user, **params).status_code == 200, (path, user)
    refused = api.client.post(f"{LEDGER}/checkpoints", headers=api.headers("coord1"))
    assert refused.status_code == 403
