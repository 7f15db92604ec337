"""Pure folds from one event (and the participant before and after it) to read-model rows.

Every text a row holds passes through `domain.text.storable`: an event recorded before input
hygiene existed (or straight through the application layer) may hold U+0000 or a lone
surrogate, which a PostgreSQL text column refuses; the row holds U+FFFD instead, on both
stores, so no event in the log can stop a projection. `changes` is JSON written as ASCII.
"""

from __future__ import annotations

import json
from typing import Any

from domain.audit import changes_for, stream_changes
from domain.casebook import last_known_alive_on, status, treatment_start_on
from domain.ledger_event import LedgerEvent
from domain.participant import Participant
from domain.participant_outcome import participant_outcome
from domain.response.measures import measure_targets
from domain.text import storable
from infra.ledger.store import ChainRow

TIMELINE_TYPES = frozenset({"TumorAssessed", "DoseAdministered", "TACEPerformed",
                            "EntryCorrected", "EntryVoided"})
"""Events that can change a participant's response timeline: reads themselves, and treatment
start (which picks the baseline read); corrections and voids of either."""


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _storable(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each text value made storable on every store."""
    return {key: storable(value) if isinstance(value, str) else value
            for key, value in row.items()}


AUDIT_COLUMNS = ("position", "event_id", "stream_id", "participant_id", "type", "occurred_on",
                 "recorded_at", "recorded_by", "role", "site_id", "reason", "changes")
"""The columns of an audit-trail entry (besides its generation), in `audit_values` order."""


def audit_row(event: LedgerEvent, chain: ChainRow, before: Any) -> dict[str, Any]:
    """One audit-trail entry: who, what, when, why, and what it changed (`before`: the state of
    the event's stream before it, any aggregate)."""
    return dict(zip(AUDIT_COLUMNS, audit_values(event, chain.position, chain.stream_id,
                                                chain.recorded_at, before), strict=True))


def audit_values(event: LedgerEvent, position: int, stream_id: str, recorded_at: str,
                 before: Any) -> tuple[Any, ...]:
    """`audit_row` as a tuple in `AUDIT_COLUMNS` order, from the chain row's position, stream
    and recorded time."""
    is_participant = isinstance(event, Participant.Event)
    type_name = type(event).__name__
    if is_participant:
        data: dict[str, Any] = getattr(event, "data", {})
        occurred_on = getattr(event, "occurred_on", None)
        changes = changes_for(before, type_name, data)
    else:
        occurred_on, changes = None, stream_changes(before, event)
    values = (
        position, event.event_id, stream_id, stream_id if is_participant else None, type_name,
        occurred_on, recorded_at, event.actor, event.role, event.site_id, event.reason,
        json.dumps(changes, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        if changes else "[]",
    )
    # Almost every row is plain ASCII without U+0000: one check over all its text rather than
    # one per value (`storable` keeps such text as it is).
    whole = "".join([value for value in values if isinstance(value, str)])
    if whole.isascii() and "\x00" not in whole:
        return values
    return tuple(storable(value) if isinstance(value, str) else value for value in values)


def summary_row(participant: Participant, position: int) -> dict[str, Any]:
    return _storable({
        "participant_id": participant.id,
        "site_id": participant.site_id,
        "status": status(participant),
        "version": participant.version,
        "enrolled_on": participant.enrollment.occurred_on.isoformat(),
        "treatment_start_on": _iso(treatment_start_on(participant)),
        "last_known_alive_on": _iso(last_known_alive_on(participant)),
        "died_on": _iso(participant.died_on),
        "last_position": position,
    })


def timeline_rows(participant: Participant, position: int) -> list[dict[str, Any]]:
    """Every scan's per-criterion sum and response (back-dated PD rewrites earlier rows)."""
    rows = []
    for criterion, outcome in participant_outcome(participant).by_criterion.items():
        base = {"participant_id": participant.id, "criterion": criterion,
                "last_position": position}
        if outcome.baseline is not None:
            total = measure_targets(outcome.baseline.read, outcome.baseline.read).total_mm
            rows.append({**base, "event_id": outcome.baseline.event_id,
                         "assessed_on": outcome.baseline.on.isoformat(),
                         "sum_mm": None if total is None else float(total),
                         "response": "baseline", "backdated": False})
        for scan, point in zip(outcome.followups, outcome.timepoints, strict=True):
            rows.append({**base, "event_id": scan.event_id, "assessed_on": scan.on.isoformat(),
                         "sum_mm": point.sum_mm, "response": point.overall.value,
                         "backdated": point.backdated})
    return [_storable(row) for row in rows]

