"""The ledger's own proofs: recompute the hash chain from the stored bytes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from infra.ledger.verify import verify_ledger
from services.access import authorize
from services.api.deps import ActorDep, LedgerDep

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@router.get("/verify")
def verify(ledger: LedgerDep, actor: ActorDep,
           head: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$",
                                             description="A head hash kept from earlier: "
                                                         "the log must still contain it.")] = None,
           ) -> dict[str, Any]:
    """Recompute every link; report the first bad position, if any."""
    authorize(actor.role, actor.sites, "verify_ledger")
    return verify_ledger(ledger.store, expected_head=head).as_dict()
