"""The casebook's view of tumour response: assessments, best response, times to event.

docs/api.md casebook fields, over all data (no cutoff): every scan's read per criterion with how
it was used, best overall response per criterion, and OS / PFS / DOR as `T` objects.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.analysis.time_to_event import TimeToEvent
from domain.outcomes import CriterionOutcome, participant_outcome, scans
from domain.participant import Participant
from domain.protocol import CRITERIA, Criterion
from domain.response.measures import measure_targets


def casebook_outcomes(participant: Participant) -> dict[str, Any]:
    """docs/api.md casebook fields: `assessments`, `best_overall_response`, `time_to_event`."""
    outcome = participant_outcome(participant)
    by = outcome.by_criterion
    return {
        "assessments": _assessment_rows(participant, by),
        "best_overall_response": {c: _best_view(o) for c, o in by.items()},
        "time_to_event": {
            "os": _time_view(outcome.os),
            "pfs": {c: _time_view(o.pfs) for c, o in by.items()},
            "dor": {c: _time_view(o.dor) for c, o in by.items()},
        },
    }


def _assessment_rows(
    participant: Participant, by: dict[Criterion, CriterionOutcome]
) -> list[dict[str, Any]]:
    """One row per scan date and criterion; `role` says how the read was used."""
    rows: list[dict[str, Any]] = []
    for criterion, outcome in by.items():
        at = {s.event_id: tp for s, tp in zip(outcome.followups, outcome.timepoints, strict=True)}
        baseline_id = outcome.baseline.event_id if outcome.baseline is not None else None
        for scan in scans(participant, criterion):
            row: dict[str, Any] = {
                "occurred_on": scan.on.isoformat(),
                "criterion": criterion,
                "event_id": scan.event_id,
                "role": "not_used",
                "sum_mm": None,
                "nadir_mm": None,
                "response": None,
                "target": None,
                "non_target": None,
                "new_lesion": None,
                "backdated": None,
            }
            tp = at.get(scan.event_id)
            if scan.event_id == baseline_id:
                total = measure_targets(scan.read, scan.read).total_mm
                row.update(role="baseline", sum_mm=None if total is None else float(total))
            elif tp is not None:
                row.update(
                    role="follow_up",
                    sum_mm=tp.sum_mm,
                    nadir_mm=tp.nadir_mm,
                    response=tp.overall.value,
                    target=tp.target.value,
                    non_target=tp.non_target.value,
                    new_lesion=tp.new_lesion,
                    backdated=tp.backdated,
                )
            rows.append(row)
    rows.sort(key=lambda row: (row["occurred_on"], CRITERIA.index(row["criterion"])))
    return rows


def _best_view(outcome: CriterionOutcome) -> dict[str, Any]:
    best = outcome.best
    return {
        "confirmed": best.confirmed.value if best else "NE",
        "unconfirmed": best.unconfirmed.value if best else "NE",
        "evaluable": outcome.evaluable,
        "response_start_on": _iso(best.response_start_on if best else None),
        "first_pd_on": _iso(best.first_pd_on if best else None),
    }


def _time_view(value: TimeToEvent | None) -> dict[str, Any] | None:
    """docs/api.md `T`: days, event, censor_reason; None where the endpoint does not apply."""
    if value is None:
        return None
    return {"days": value.days, "event": value.event, "censor_reason": value.censor_reason}


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
