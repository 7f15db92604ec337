"""The ledger's own proofs: the hash chain recomputed, signed checkpoints, Merkle proofs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from domain.errors import FieldProblem, InvalidEntry
from infra.ledger.checkpoints import (
    Checkpoint,
    SigningKeyError,
    checkpoint_of_size,
    issue_checkpoint,
    public_key_document,
)
from infra.ledger.checkpoints import latest_checkpoint as stored_latest_checkpoint
from infra.ledger.event_index import EventIndexMismatch, find_indexed_event
from infra.ledger.merkle_store import ChainForkError, MerkleStore
from infra.ledger.verification import verify_store
from projections.verify_models import verify_read_models
from services.access import authorize
from services.api.deps import ActorDep, LedgerDep, SettingsDep
from services.api.ledger_schemas import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    LatestCheckpointOut,
    PublicKeyOut,
)
from services.api.study_schemas import VerifyOut
from services.application import TrialLedger

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])

EVENT_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_SIZE = 2**63 - 1  # the largest BIGINT: larger sizes are refused before any query
TreeSize = Annotated[int | None, Query(ge=1, le=MAX_SIZE,
                                       description="Tree size of a checkpoint you hold; "
                                                   "default: the latest.")]


@router.get("/verify", response_model=VerifyOut, response_model_exclude_unset=True)
def verify(ledger: LedgerDep, actor: ActorDep, settings: SettingsDep,
           head: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$",
                                             description="A head hash kept from earlier: "
                                                         "the log must still contain it.")] = None,
           read_models: Annotated[bool, Query(description="Also rebuild every read model "
                                                          "from the log in a scratch store and "
                                                          "compare state hashes.")] = False,
           ) -> dict[str, Any]:
    """Recompute every link and check the log against every stored signed checkpoint; report
    the first bad position or leaf, and in `checks` what each check proved (read only)."""
    authorize(actor.role, actor.sites, "verify_ledger")
    result = verify_store(ledger.store, settings, expected_head=head)
    if read_models:
        result.read_models = verify_read_models(ledger, ledger.store.engine)
    return result.as_dict()


@router.get("/checkpoints/latest")
def latest_checkpoint(ledger: LedgerDep, actor: ActorDep) -> LatestCheckpointOut:
    """The newest stored signed checkpoint and how many events were recorded after it. Keep
    it outside the system: `trial-ledger verify --checkpoint FILE` checks it later.
    Checkpoints are issued by the projection worker on a schedule and by
    POST /api/v1/ledger/checkpoints; this read issues none."""
    authorize(actor.role, actor.sites, "verify_ledger")
    checkpoint = _latest_or_404(ledger)
    log_size = MerkleStore(ledger.store.engine).log_size()
    return LatestCheckpointOut(**checkpoint.as_dict(),
                               events_after=max(0, log_size - checkpoint.tree_size))


@router.post("/checkpoints", status_code=201)
def new_checkpoint(ledger: LedgerDep, actor: ActorDep, settings: SettingsDep
                   ) -> CheckpointOut:
    """Issue and sign a checkpoint of the whole log now; its time is inside the signed body."""
    authorize(actor.role, actor.sites, "verify_ledger")
    with _tree_errors():
        return CheckpointOut(**issue_checkpoint(ledger.store.engine, settings).as_dict())


@router.get("/public-key")
def public_key(actor: ActorDep, settings: SettingsDep) -> PublicKeyOut:
    """The Ed25519 key that signs checkpoints: save it once and pin it to check checkpoints
    and proofs offline (`python -m infra.ledger.proofs ... --public-key FILE`)."""
    authorize(actor.role, actor.sites, "verify_ledger")
    with _tree_errors():
        return PublicKeyOut.model_validate(public_key_document(settings))


@router.get("/proofs/inclusion")
def inclusion_proof(
    ledger: LedgerDep, actor: ActorDep,
    event_id: Annotated[str, Query(pattern=EVENT_ID, description="The event's event_id.")],
    tree_size: TreeSize = None,
) -> InclusionProofOut:
    """RFC 9162 §2.1.3 audit path from the event's leaf to the root at `tree_size`, with the
    event's chain hash, the root and the signed checkpoint of that size: save the answer and
    check it offline with `python -m infra.ledger.proofs inclusion FILE --public-key KEY`."""
    authorize(actor.role, actor.sites, "verify_ledger")
    tree = MerkleStore(ledger.store.engine)
    try:
        event = find_indexed_event(ledger.store.engine, event_id.lower())
    except EventIndexMismatch as error:
        raise HTTPException(409, f"the ledger cannot be proven: {error}") from error
    if event is None:
        raise HTTPException(404, f"no event with event_id {event_id} is in the ledger")
    with _tree_errors():
        size = _tree_size(ledger, tree, tree_size, "query.tree_size")
        if event.leaf_index >= size:
            raise InvalidEntry(
                f"event {event_id} is leaf {event.leaf_index}, which a tree of {size} leaves "
                f"does not contain: ask for tree_size {event.leaf_index + 1} or more",
                [FieldProblem("query.tree_size", f"must be more than {event.leaf_index}")])
        path = tree.inclusion_proof(event.leaf_index, size)
        leaf = tree.leaf(event.leaf_index)
        root = tree.root(size)
    chained = ledger.store.chain_for_event(event.stream_id, event.version)
    if chained is None:
        raise HTTPException(409, f"the ledger cannot be proven: the chain row of event "
                                 f"{event_id} is missing")
    return InclusionProofOut(
        event_id=event.event_id, leaf_index=event.leaf_index, position=chained.position,
        stream_id=chained.stream_id, version=chained.version, recorded_at=chained.recorded_at,
        prev_hash=chained.prev_hash.hex(), event_hash=chained.event_hash.hex(),
        leaf_hash=_b64(leaf), leaf_hash_rule="SHA-256(0x00 || event_hash)", tree_size=size,
        root_hash=_b64(root), audit_path=[_b64(node) for node in path],
        checkpoint=_signed(ledger, size))


@router.get("/proofs/consistency")
def consistency_proof(
    ledger: LedgerDep, actor: ActorDep,
    first: Annotated[int, Query(ge=0, le=MAX_SIZE,
                                description="Tree size of the older checkpoint.")],
    second: Annotated[int | None, Query(ge=0, le=MAX_SIZE, description="Tree size of the newer "
                                                          "checkpoint; default: the latest.")
                      ] = None,
) -> ConsistencyProofOut:
    """RFC 9162 §2.1.4 proof that the tree of `first` leaves is a prefix of `second`, with
    both roots and the signed checkpoints of both sizes: save the answer and check it offline
    with `python -m infra.ledger.proofs consistency FILE --public-key KEY`."""
    authorize(actor.role, actor.sites, "verify_ledger")
    tree = MerkleStore(ledger.store.engine)
    with _tree_errors():
        size = _tree_size(ledger, tree, second, "query.second")
        if first > size:
            raise InvalidEntry(
                f"first ({first}) is larger than second ({size}): a consistency proof shows "
                "that an older, smaller tree is a prefix of a newer one",
                [FieldProblem("query.first", f"must be at most second ({size})")])
        proof = tree.consistency_proof(first, size)
        first_root, second_root = tree.root(first), tree.root(size)
    return ConsistencyProofOut(
        first=first, second=size, first_root=_b64(first_root), second_root=_b64(second_root),
        proof=[_b64(node) for node in proof],
        first_checkpoint=_signed(ledger, first) if first else None,
        second_checkpoint=_signed(ledger, size))


def _signed(ledger: TrialLedger, size: int) -> CheckpointOut | None:
    """The newest stored checkpoint of exactly `size` leaves, as a proof answer carries it."""
    checkpoint = checkpoint_of_size(ledger.store.engine, size)
    return None if checkpoint is None else CheckpointOut(**checkpoint.as_dict())


def _latest_or_404(ledger: TrialLedger) -> Checkpoint:
    checkpoint = stored_latest_checkpoint(ledger.store.engine)
    if checkpoint is None:
        raise HTTPException(404, "no checkpoint has been issued yet: POST "
                                 "/api/v1/ledger/checkpoints issues one now, and the projection "
                                 "worker (trial-ledger serve, or trial-ledger project "
                                 "--checkpoint-every S) issues one periodically")
    return checkpoint


def _tree_size(ledger: TrialLedger, tree: MerkleStore, asked: int | None, loc: str) -> int:
    """The asked size if the stored tree has reached it; default: the latest checkpoint's."""
    if asked is None:
        return _latest_or_404(ledger).tree_size
    log_size = tree.log_size()
    if asked > log_size:
        raise InvalidEntry(f"{loc.split('.')[-1]} {asked} is beyond the log, which has "
                           f"{log_size} events",
                           [FieldProblem(loc, f"must be at most {log_size}")])
    size = tree.size()
    if asked > size:
        raise InvalidEntry(f"{loc.split('.')[-1]} {asked} is beyond the Merkle tree, which "
                           f"has {size} leaves until the next checkpoint (POST "
                           "/api/v1/ledger/checkpoints)",
                           [FieldProblem(loc, f"must be at most {size}")])
    return asked


@contextmanager
def _tree_errors() -> Iterator[None]:
    """A chain that no longer extends the stored tree, or no signing key: say so plainly."""
    try:
        yield
    except ChainForkError as error:
        raise HTTPException(409, f"the ledger cannot be proven: {error}") from error
    except SigningKeyError as error:
        raise HTTPException(503, f"checkpoints cannot be signed: {error}") from error


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
