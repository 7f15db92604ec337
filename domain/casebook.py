"""What a participant's casebook derives from their effective entries, over all data: when
treatment started, when they were last known alive, and where they stand in the study.

These sit below the response and endpoint derivations (which start from the treatment start and
the last date known alive) and below the rules; the casebook's JSON shape is the API's
(`services/api/casebook_view.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from domain.entries import ParticipantHistory, RecordedEntry
from domain.events import DoseModifiedData
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
    return status_from(
        died=participant.died_on is not None,
        withdrawn=bool(participant.entries_of("ParticipantWithdrew")),
        discontinued=discontinued_drugs(participant.entries_of("DoseModified")),
        other_therapy=bool(participant.entries_of("AnticancerTherapyStarted")),
    )


def discontinued_drugs(entries: Iterable[RecordedEntry]) -> frozenset[str]:
    """The study drugs a DoseModified entry among `entries` discontinued."""
    return frozenset(payload.drug for e in entries
                     if isinstance(payload := e.payload, DoseModifiedData)
                     and payload.action == "discontinued")


def status_from(*, died: bool, withdrawn: bool, discontinued: frozenset[str],
                other_therapy: bool) -> str:
    """`status` from what it looks at: a death, a withdrawal, the study drugs discontinued and
    whether off-protocol anticancer therapy started."""
    if died:
        return "dead"
    if withdrawn:
        return "withdrawn"
    if discontinued >= set(STUDY_DRUGS) or other_therapy:
        return "follow_up"
    return "on_treatment"
