"""Checkpoint text (with its signed timestamp line, and the old three-line form), Ed25519
signatures over it, key ids and key files."""

from __future__ import annotations

import base64
import hashlib
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from infra.ledger import checkpoint_format as cp
from infra.ledger import proofs
from infra.ledger.chain import format_recorded_at

ROOT = hashlib.sha256(b"root of 42").digest()
ORIGIN = "trial-ledger/HCC-TACE-01"
KEY = cp.private_key_from_pem(cp.private_key_to_pem(cp.generate_private_key()))
PUBLIC = cp.public_key_raw(KEY)


STAMP = "2026-11-30T12:00:00.000000Z"


def test_body_is_origin_size_root_then_the_timestamp_extension_line() -> None:
    body = cp.checkpoint_body(ORIGIN, 42, ROOT, STAMP)
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\ntimestamp: {STAMP}\n"
    assert cp.read_body(body) == proofs.CheckpointBody(ORIGIN, 42, ROOT, STAMP)
    assert cp.parse_body(body) == (ORIGIN, 42, ROOT)


def test_the_old_three_line_form_still_parses_without_a_signed_time() -> None:
    body = cp.checkpoint_body(ORIGIN, 42, ROOT)
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert cp.read_body(body) == proofs.CheckpointBody(ORIGIN, 42, ROOT, None)
    assert cp.parse_body(body) == (ORIGIN, 42, ROOT)


def test_the_signature_covers_the_timestamp() -> None:
    body = cp.checkpoint_body(ORIGIN, 42, ROOT, STAMP)
    signature = cp.sign_body(KEY, body)
    assert cp.verify_checkpoint(PUBLIC, body, signature)
    for other in ("2026-11-30T12:00:00.000001Z", "2025-11-30T12:00:00.000000Z"):
        assert not cp.verify_checkpoint(PUBLIC, cp.checkpoint_body(ORIGIN, 42, ROOT, other),
                                        signature)
    assert not cp.verify_checkpoint(PUBLIC, cp.checkpoint_body(ORIGIN, 42, ROOT), signature)


def test_empty_tree_checkpoint_round_trips() -> None:
    empty = hashlib.sha256(b"").digest()
    assert cp.parse_body(cp.checkpoint_body(ORIGIN, 0, empty)) == (ORIGIN, 0, empty)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        ("two\nlines", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 1.0, ROOT),
        (ORIGIN, 1, ROOT[:31]),
        (ORIGIN, 1, ROOT.hex()),
        (ORIGIN, 2**64, ROOT),
    ],
)
def test_body_refuses_values_it_could_not_parse_back(
    origin: str, size: object, root: object
) -> None:
    with pytest.raises(ValueError):
        cp.checkpoint_body(origin, size, root)  # type: ignore[arg-type]


GOOD_ROOT_TEXT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}", "newline"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\n\n", "extension line"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\nextra\n", "extension line"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: {STAMP}\n\n", "3 lines"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: {STAMP}\nextra\n", "3 lines"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: {STAMP}", "newline"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp:{STAMP}\n", "extension line"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\nTimestamp: {STAMP}\n", "extension line"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: 2026-11-30T12:00:00Z\n", "timestamp"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: 2026-11-30T12:00:00.000000+00:00\n",
         "timestamp"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: 2026-02-30T12:00:00.000000Z\n",
         "timestamp"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: 2026-11-30T12:00:00.000000Z \n",
         "timestamp"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT}\ntimestamp: ２026-11-30T12:00:00.000000Z\n",
         "timestamp"),
        (f"42\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n18446744073709551616\n{GOOD_ROOT_TEXT}\n", "2\\*\\*64"),
        (f"\n42\n{GOOD_ROOT_TEXT}\n", "origin"),
        (f"{ORIGIN}\n042\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n-1\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n+1\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n 1\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n١٢\n{GOOD_ROOT_TEXT}\n", "tree size"),
        (f"{ORIGIN}\n42\n{ROOT.hex()}\n", "root hash"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT.rstrip('=')}\n", "root hash"),
        (f"{ORIGIN}\n42\n{base64.b64encode(ROOT[:16]).decode()}\n", "32 bytes"),
        (f"{ORIGIN}\n42\n{GOOD_ROOT_TEXT[:-2]}B=\n", "canonical"),
        (f"{ORIGIN}\n42\nwörd\n", "root hash"),
    ],
)
def test_parse_body_explains_what_is_wrong(body: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        cp.parse_body(body)


@given(
    st.text(min_size=1).filter(lambda s: "\n" not in s),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(min_size=32, max_size=32),
)
def test_body_round_trips_for_any_values(origin: str, size: int, root: bytes) -> None:
    assert cp.parse_body(cp.checkpoint_body(origin, size, root)) == (origin, size, root)


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_recorded_time_round_trips_through_the_timestamp_line(moment: datetime) -> None:
    stamp = format_recorded_at(moment)
    assert cp.read_body(cp.checkpoint_body(ORIGIN, 1, ROOT, stamp)).timestamp == stamp


def test_signature_verifies_with_the_signers_public_key() -> None:
    body = cp.checkpoint_body(ORIGIN, 42, ROOT)
    signature = cp.sign_body(KEY, body)
    assert len(signature) == 64
    assert cp.verify_checkpoint(PUBLIC, body, signature)


def test_signature_covers_the_utf8_bytes_of_the_body() -> None:
    body = cp.checkpoint_body("essai-hépatique/Zürich", 7, ROOT)
    signature = cp.sign_body(KEY, body)
    public_key = serialization.load_pem_public_key(
        KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    public_key.verify(signature, body.encode("utf-8"))  # type: ignore[call-arg, union-attr]
    assert cp.verify_checkpoint(PUBLIC, body, signature)


def test_forged_checkpoints_are_rejected() -> None:
    body = cp.checkpoint_body(ORIGIN, 42, ROOT)
    signature = cp.sign_body(KEY, body)
    other_key = cp.generate_private_key()
    forgeries = {
        "changed size": (PUBLIC, cp.checkpoint_body(ORIGIN, 43, ROOT), signature),
        "changed root": (PUBLIC, cp.checkpoint_body(ORIGIN, 42, ROOT[::-1]), signature),
        "changed origin": (PUBLIC, cp.checkpoint_body("elsewhere", 42, ROOT), signature),
        "trailing text": (PUBLIC, body + "\n", signature),
        "other key's signature": (PUBLIC, body, cp.sign_body(other_key, body)),
        "other public key": (cp.public_key_raw(other_key), body, signature),
        "flipped signature bit": (PUBLIC, body, bytes([signature[0] ^ 1]) + signature[1:]),
        "truncated signature": (PUBLIC, body, signature[:-1]),
        "empty signature": (PUBLIC, body, b""),
        "malformed public key": (PUBLIC[:31], body, signature),
        "public key as text": (PUBLIC.hex().encode(), body, signature),
    }
    for name, (public_key, forged_body, forged_signature) in forgeries.items():
        assert not cp.verify_checkpoint(public_key, forged_body, forged_signature), name


def test_key_id_is_first_8_bytes_of_sha256_of_raw_public_key() -> None:
    assert cp.key_id(PUBLIC) == hashlib.sha256(PUBLIC).hexdigest()[:16]
    assert len(cp.key_id(PUBLIC)) == 16
    assert cp.key_id(PUBLIC) != cp.key_id(cp.public_key_raw(cp.generate_private_key()))
    with pytest.raises(ValueError):
        cp.key_id(PUBLIC[:31])


def test_private_key_file_round_trips_as_owner_only_pkcs8_pem(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint-key.pem"
    cp.save_private_key(KEY, path)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = cp.load_private_key(path)
    assert cp.public_key_raw(loaded) == PUBLIC
    body = cp.checkpoint_body(ORIGIN, 1, ROOT)
    assert cp.verify_checkpoint(PUBLIC, body, cp.sign_body(loaded, body))


def test_saving_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint-key.pem"
    cp.save_private_key(KEY, path)
    with pytest.raises(FileExistsError):
        cp.save_private_key(cp.generate_private_key(), path)
    assert cp.public_key_raw(cp.load_private_key(path)) == PUBLIC


def test_loading_refuses_keys_that_are_not_ed25519(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(TypeError, match="Ed25519"):
        cp.load_private_key(path)
    with pytest.raises(ValueError):
        cp.private_key_from_pem(b"not a pem")
