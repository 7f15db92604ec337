"""What the import tests compare: a participant's casebook and effective entries without who
recorded them, and the endpoints as the API computes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.api.casebook_view import casebook
from services.application import Actor, TrialLedger
from services.study_outcomes import endpoints, study_outcomes

IMPORTER = Actor("cli:importer", "system")
CUTOFF = date(2027, 6, 30)
MOMENT = datetime(2030, 1, 1, tzinfo=UTC)
WHO_FIELDS = ("actor", "recorded_by", "role")


def view(ledger: TrialLedger, participant_id: str, *, signed: bool = False) -> dict[str, Any]:
    """The casebook API view and the effective entries, without who recorded each one (the
    import records them; their original authors are in the provenance). `signed`: the
    stream's version is left out too, as the signature (its last event) is not imported."""
    participant = ledger.participant(participant_id)
    entries = [{k: v for k, v in vars(e).items() if k not in WHO_FIELDS}
               for e in participant.entries.values() if e.type != "CasebookSigned"]
    drop = {"version"} if signed else set()
    return {name: {k: v for k, v in _without_who(casebook(participant, cutoff=cutoff)).items()
                   if k not in drop}
            for name, cutoff in (("casebook", None), ("at_cutoff", CUTOFF))
            } | {"entries": entries, "site": participant.site_id}


def _without_who(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_who(v) for k, v in value.items() if k not in WHO_FIELDS}
    if isinstance(value, list):
        return [_without_who(v) for v in value]
    return value


def api_endpoints(ledger: TrialLedger, criterion: str) -> dict[str, Any]:
    """What GET /api/v1/endpoints answers at CUTOFF, through the route's own calls."""
    outcomes = study_outcomes(ledger, ledger.store.engine, None, None)
    return endpoints(outcomes, criterion, CUTOFF, MOMENT)  # type: ignore[arg-type]


