"""The casebook: what a participant's effective entries say, in the shape a monitor reads."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.participant import Entry, Participant
from domain.protocol import STUDY_DRUGS

TREATMENT_TYPES = ("DoseAdministered", "TACEPerformed")


def treatment_start_on(participant: Participant) -> date | None:
    """docs/rules.md: the earliest date of any dose or TACE."""
    dates = [e.occurred_on for e in participant.entries_of(*TREATMENT_TYPES)]
    return min(dates) if dates else None


def last_known_alive_on(participant: Participant) -> date | None:
    """docs/rules.md: the latest occurred_on of any event other than a death."""
    dates = [e.occurred_on for e in participant.effective_entries() if e.type != "ParticipantDied"]
    return max(dates) if dates else None


def status(participant: Participant) -> str:
    """dead > withdrawn > follow_up (all study drugs stopped or other therapy) > on_treatment."""
    if participant.died_on is not None:
        return "dead"
    if participant.entries_of("ParticipantWithdrew"):
        return "withdrawn"
    discontinued = {e.data["drug"] for e in participant.entries_of("DoseModified")
                    if e.data["action"] == "discontinued"}
    if discontinued >= set(STUDY_DRUGS) or participant.entries_of("AnticancerTherapyStarted"):
        return "follow_up"
    return "on_treatment"


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


def casebook(participant: Participant) -> dict[str, Any]:
    """The participant's current state, derived from their effective entries only."""
    from domain.casebook_outcomes import casebook_outcomes  # builds on this module

    enrollment = participant.enrollment
    start = treatment_start_on(participant)
    alive = last_known_alive_on(participant)
    died = participant.died_on
    return {
        "participant_id": participant.id,
        "site_id": participant.site_id,
        "version": participant.version,
        "status": status(participant),
        "enrollment": {"enrolled_on": enrollment.occurred_on.isoformat(), **enrollment.data},
        "treatment_start_on": start.isoformat() if start else None,
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
        "last_known_alive_on": alive.isoformat() if alive else None,
        "died_on": died.isoformat() if died else None,
        **casebook_outcomes(participant),
    }
