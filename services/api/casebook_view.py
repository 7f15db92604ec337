"""The casebook as the API shows it (docs/api.md): a participant's effective entries, their
derived status and dates, and their tumour response over all data (no cutoff).

The domain derives the values (`domain.casebook`, `domain.participant_outcome`); this module only gives
them the API's JSON shape: dates as ISO strings, each entry as a view of its event, every scan's
read per criterion with how it was used, best overall response per criterion, and OS / PFS /
DOR as `T` objects.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.analysis.time_to_event import TimeToEvent
from domain.casebook import last_known_alive_on, status, treatment_start_on
from domain.entries import Entry
from domain.participant import Participant
from domain.participant_outcome import CriterionOutcome, participant_outcome, scans
from domain.protocol import CRITERIA, STUDY_DRUGS, Criterion
from domain.response.measures import measure_targets


def casebook(participant: Participant) -> dict[str, Any]:
    """The participant's current state, derived from their effective entries only."""
    enrollment = participant.enrollment
    return {
        "participant_id": participant.id,
        "site_id": participant.site_id,
        "version": participant.version,
        "status": status(participant),
        "enrollment": {"enrolled_on": enrollment.occurred_on.isoformat(), **enrollment.data},
        "treatment_start_on": _iso(treatment_start_on(participant)),
        "doses": doses_by_drug(participant),
        "dose_modifications": [_entry_view(e) for e in participant.entries_of("DoseModified")],
        "tace_sessions": [_entry_view(e) for e in participant.entries_of("TACEPerformed")],
        "tumor_assessments": [_entry_view(e) for e in participant.entries_of("TumorAssessed")],
        "adverse_events": adverse_events(participant),
        "anticancer_therapies": [
            _entry_view(e) for e in participant.entries_of("AnticancerTherapyStarted")
        ],
        "withdrawal": next(
            (_entry_view(e) for e in participant.entries_of("ParticipantWithdrew")), None
        ),
        "last_known_alive_on": _iso(last_known_alive_on(participant)),
        "died_on": _iso(participant.died_on),
        **casebook_outcomes(participant),
    }


def _entry_view(entry: Entry) -> dict[str, Any]:
    view: dict[str, Any] = {"event_id": entry.event_id, "occurred_on": entry.occurred_on.isoformat()}
    view.update(entry.data)
    if entry.corrected_by:
        view["corrected_by"] = list(entry.corrected_by)
    return view


def doses_by_drug(participant: Participant) -> dict[str, list[dict[str, Any]]]:
    doses: dict[str, list[dict[str, Any]]] = {drug: [] for drug in STUDY_DRUGS}
    for entry in participant.entries_of("DoseAdministered"):
        doses[entry.data["drug"]].append(_entry_view(entry))
    return doses


def adverse_events(participant: Participant) -> list[dict[str, Any]]:
    """Each AE with its current grade, seriousness, attribution and outcome."""
    events: dict[str, dict[str, Any]] = {}
    for entry in participant.effective_entries():
        if entry.type == "AdverseEventReported":
            events[entry.data["ae_id"]] = {
                **_entry_view(entry),
                "onset_on": entry.occurred_on.isoformat(),
                "worst_grade": entry.data["grade"],
                "resolved_on": None,
                "outcome": None,
            }
        elif entry.type == "AdverseEventUpdated":
            ae = events[entry.data["ae_id"]]
            for name in ("grade", "serious", "related_to"):
                if entry.data.get(name) is not None:
                    ae[name] = entry.data[name]
            ae["worst_grade"] = max(ae["worst_grade"], ae["grade"])
        elif entry.type == "AdverseEventResolved":
            ae = events[entry.data["ae_id"]]
            ae["resolved_on"] = entry.occurred_on.isoformat()
            ae["outcome"] = entry.data["outcome"]
    return list(events.values())


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
