"""The casebook as the API shows it (docs/api.md): a participant's effective entries, their
derived status and dates, and their tumour response, over all data or at a clinical cutoff.

The domain derives the values (`domain.casebook`, `domain.participant_outcome`); this module
only gives them the API's JSON shape: dates as ISO strings, each entry as a view of its event,
every scan's read per criterion with how it was used, best overall response per criterion, and
OS / PFS / DOR as `T` objects (services/casebook_outcomes.py).

At a cutoff D the entry lists, the status and the dates show only entries dated on or before
D, and the outcome fields are `participant_outcome(participant, D)`: exactly what `/endpoints`
counts for the participant at D (nothing dated after D is an outcome, though a later entry
still shows the participant was alive at D).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.casebook import last_known_alive_on, status, treatment_start_on
from domain.entries import Entry
from domain.participant import Participant
from domain.participant_outcome import NO_CUTOFF, participant_outcome
from domain.protocol import STUDY_DRUGS
from services.casebook_outcomes import (
    EntryIndex,
    outcome_key,
    outcome_views,
    overall_survival_at,
    time_view,
)
from services.participant_snapshots import CachedOutcome


def casebook(participant: Participant, *, cutoff: date | None = None,
             cached: CachedOutcome | None = None) -> dict[str, Any]:
    """The participant's state, derived from their effective entries only (dated on or before
    `cutoff` when one is given). `cached`: outcome views stored for this participant, used
    only if derived from the same inputs (`outcome_key`) and no cutoff applies."""
    everything = EntryIndex(participant)
    shown = everything if cutoff is None else EntryIndex(participant, until=cutoff)
    enrollment = everything.enrollment
    alive_on = last_known_alive_on(shown)
    return {
        "participant_id": participant.id,
        "site_id": participant.site_id,
        "version": participant.version,
        "status": status(shown),
        "enrollment": {"enrolled_on": enrollment.occurred_on.isoformat(), **enrollment.data},
        "treatment_start_on": _iso(treatment_start_on(shown)),
        "doses": doses_by_drug(shown),
        "dose_modifications": [_entry_view(e) for e in shown.entries_of("DoseModified")],
        "tace_sessions": [_entry_view(e) for e in shown.entries_of("TACEPerformed")],
        "tumor_assessments": [_entry_view(e) for e in shown.entries_of("TumorAssessed")],
        "adverse_events": adverse_events(shown),
        "anticancer_therapies": [
            _entry_view(e) for e in shown.entries_of("AnticancerTherapyStarted")
        ],
        "withdrawal": next(
            (_entry_view(e) for e in shown.entries_of("ParticipantWithdrew")), None
        ),
        "last_known_alive_on": _iso(alive_on),
        "died_on": _iso(shown.died_on),
        **casebook_outcomes(everything, shown, cutoff, cached, alive_on=alive_on),
    }


def _entry_view(entry: Entry) -> dict[str, Any]:
    view: dict[str, Any] = {"event_id": entry.event_id,
                            "occurred_on": entry.occurred_on.isoformat(), **entry.data}
    if entry.corrected_by:
        view["corrected_by"] = list(entry.corrected_by)
    return view


def doses_by_drug(participant: EntryIndex) -> dict[str, list[dict[str, Any]]]:
    doses: dict[str, list[dict[str, Any]]] = {drug: [] for drug in STUDY_DRUGS}
    for entry in participant.entries_of("DoseAdministered"):
        doses[entry.data["drug"]].append(_entry_view(entry))
    return doses


AE_TYPES = ("AdverseEventReported", "AdverseEventUpdated", "AdverseEventResolved")


def adverse_events(participant: EntryIndex) -> list[dict[str, Any]]:
    """Each AE with its current grade, seriousness, attribution and outcome."""
    events: dict[str, dict[str, Any]] = {}
    for entry in participant.entries_of(*AE_TYPES):
        if entry.type == "AdverseEventReported":
            events[entry.data["ae_id"]] = {
                **_entry_view(entry),
                "onset_on": entry.occurred_on.isoformat(),
                "worst_grade": entry.data["grade"],
                "resolved_on": None,
                "outcome": None,
            }
            continue
        ae = events.get(entry.data["ae_id"])
        if ae is None:  # reported after the cutoff this casebook is at
            continue
        if entry.type == "AdverseEventUpdated":
            for name in ("grade", "serious", "related_to"):
                if entry.data.get(name) is not None:
                    ae[name] = entry.data[name]
            ae["worst_grade"] = max(ae["worst_grade"], ae["grade"])
        else:
            ae["resolved_on"] = entry.occurred_on.isoformat()
            ae["outcome"] = entry.data["outcome"]
    return list(events.values())


def casebook_outcomes(everything: EntryIndex, shown: EntryIndex, cutoff: date | None,
                      cached: CachedOutcome | None, *, alive_on: date | None = None
                      ) -> dict[str, Any]:
    """docs/api.md casebook fields: `assessments`, `best_overall_response`, `time_to_event`;
    `alive_on`: the last date known alive of `shown` (all entries when no cutoff applies)."""
    if cutoff is None and cached is not None and cached.key == outcome_key(everything):
        views = cached.views()
        os = overall_survival_at(everything, alive_on=alive_on)
    else:
        outcome = participant_outcome(everything, cutoff or NO_CUTOFF)
        views = outcome_views(outcome, shown)
        os = outcome.os
    return {
        "assessments": views["assessments"],
        "best_overall_response": views["best_overall_response"],
        "time_to_event": {"os": time_view(os), "pfs": views["pfs"], "dor": views["dor"]},
    }


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
