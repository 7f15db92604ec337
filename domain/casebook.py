"""What a participant's casebook derives from their effective entries, over all data: when
treatment started, when they were last known alive, and where they stand in the study.

These sit below the response and endpoint derivations (which start from the treatment start and
the last date known alive) and below the rules; the casebook's JSON shape is the API's
(`services/api/casebook_view.py`).
"""

from __future__ import annotations

from datetime import date

from domain.entries import ParticipantHistory
from domain.protocol import STUDY_DRUGS

TREATMENT_TYPES = ("DoseAdministered", "TACEPerformed")


def treatment_start_on(participant: ParticipantHistory) -> date | None:
    """docs/rules.md: the earliest date of any dose or TACE."""
    dates = [e.occurred_on for e in participant.entries_of(*TREATMENT_TYPES)]
    return min(dates) if dates else None


def last_known_alive_on(participant: ParticipantHistory) -> date | None:
    """docs/rules.md: the latest occurred_on of any event other than a death."""
    dates = [e.occurred_on for e in participant.effective_entries() if e.type != "ParticipantDied"]
    return max(dates) if dates else None


def status(participant: ParticipantHistory) -> str:
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
