"""The ledger: is the history intact, what was last signed, and the files to check it offline.

The page shows the latest signed checkpoint (its signature checked here against the service's
public key) and how many events came after it. The full verification (`GET
/api/v1/ledger/verify`: every link recomputed, the log checked against every stored
checkpoint) reads the whole log, so it runs when asked (`?verify=full`), not on every visit.
The downloads are the API's answers, saved as files, and the stand-alone verifier
(`infra/ledger/proofs.py`, standard library and `cryptography` only) that checks them on a
machine that has never seen this service.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

import infra.ledger.proofs as offline_verifier
from infra.ledger.checkpoint_format import verify_checkpoint
from services.api.deps import LedgerDep, SettingsDep
from services.api.routes.ledger import (
    EVENT_ID,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
    public_key,
    verify,
)
from services.web.params import form_filter
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)

VERIFIER = Path(offline_verifier.__file__)
DOWNLOADS = ("checkpoint.json", "public-key.json", "inclusion-proof.json",
             "consistency-proof.json", "proofs.py")
Size = Annotated[str | None, Query(max_length=20)]


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, ledger: LedgerDep, actor: WebActorDep, settings: SettingsDep,
                verify_: Annotated[str | None, Query(alias="verify", max_length=8)] = None
                ) -> HTMLResponse:
    full = form_filter("verify", verify_, "^full$", "'full'") is not None
    key = public_key(actor, settings)
    try:
        checkpoint: dict[str, Any] | None = latest_checkpoint(ledger, actor).model_dump()
    except HTTPException:
        checkpoint = None
    signed = checkpoint is not None and verify_checkpoint(
        base64.b64decode(key.public_key), checkpoint["body"],
        base64.b64decode(checkpoint["signature"]))
    result = verify(ledger, actor, settings, None, False) if full else None
    return page(request, "ledger.html", actor=actor, section="ledger", checkpoint=checkpoint,
                signed=signed, key=key.model_dump(), result=result, downloads=DOWNLOADS)


@router.get("/ledger/downloads/{name}")
def ledger_download(name: str, ledger: LedgerDep, actor: WebActorDep, settings: SettingsDep,
                    event_id: Annotated[str | None, Query(max_length=64)] = None,
                    first: Size = None, second: Size = None) -> Response:
    """One file for the offline check; its name says what it is."""
    body: Any
    match name:
        case "checkpoint.json":
            body = latest_checkpoint(ledger, actor).model_dump()
        case "public-key.json":
            body = public_key(actor, settings).model_dump()
        case "inclusion-proof.json":
            chosen = form_filter("event_id", event_id, EVENT_ID, "an event id (a UUID)")
            if chosen is None:
                form_filter("event_id", "?", EVENT_ID, "an event id (a UUID)")
            body = inclusion_proof(ledger, actor, str(chosen), None).model_dump()
        case "consistency-proof.json":
            older = form_filter("first", first, r"^[0-9]{1,18}$", "a tree size")
            newer = form_filter("second", second, r"^[0-9]{1,18}$", "a tree size")
            body = consistency_proof(ledger, actor, int(older or 0),
                                     None if newer is None else int(newer)).model_dump()
        case "proofs.py":
            return Response(VERIFIER.read_bytes(), media_type="text/x-python",
                            headers=_attachment(name))
        case _:
            raise HTTPException(404, f"no download named {name!r}: one of "
                                     + ", ".join(DOWNLOADS))
    return Response(json.dumps(body, indent=2) + "\n", media_type="application/json",
                    headers=_attachment(name))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="trial-ledger-{name}"'}
