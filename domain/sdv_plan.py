"""The risk-based source-data verification plan: which entries a monitor must verify.

Not every entry is worth the same check against the hospital's records. What the endpoints
and the safety analysis rest on is verified whole (domain/protocol.py names it and why); every
other entry is verified in a sample. The sample is chosen from the entry's event id alone
(SHA-256), so the plan is the same on every read, every server and every replay of the ledger,
needs nothing stored, and neither the site nor the monitor can steer which entries it holds.
An entry's place in the plan is read from its data as it now stands: an adverse event
corrected to grade 3 joins the 100% part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from domain.entries import Entry, ParticipantHistory
from domain.events import (
    AdverseEventPayload,
    AdverseEventReportedData,
    AdverseEventResolvedData,
    AdverseEventUpdatedData,
)
from domain.protocol import SDV_FULL_TYPES, SDV_SAMPLING_PERCENT, SDV_SERIOUS_AE_GRADE

AE_TYPES = frozenset({"AdverseEventReported", "AdverseEventUpdated", "AdverseEventResolved"})
FULL_REASONS = {
    "ParticipantEnrolled": "eligibility and consent: 100%",
    "TumorAssessed": "tumour assessment: 100%",
    "ParticipantDied": "death: 100%",
    "ParticipantWithdrew": "withdrawal of consent: 100%",
}
SERIOUS_REASON = f"serious or grade >= {SDV_SERIOUS_AE_GRADE} adverse event: 100%"
SAMPLE_BUCKETS = 100


@dataclass(frozen=True)
class PlanItem:
    """One entry's place in the plan: must it be verified, and why."""

    required: bool
    reason: str


def sample_bucket(event_id: str) -> int:
    """0..99, from the event id alone: the entry is in the sample when below the rate."""
    digest = hashlib.sha256(f"sdv-sample:{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SAMPLE_BUCKETS


def sampled(event_id: str, percent: int = SDV_SAMPLING_PERCENT) -> bool:
    return sample_bucket(event_id) < percent


def serious_adverse_events(entries: Iterable[Entry]) -> frozenset[str]:
    """The ae_ids that are serious, of grade >= the threshold, or fatal in any effective
    event of theirs."""
    found = set()
    for entry in entries:
        payload = entry.payload if entry.type in AE_TYPES else None
        if isinstance(payload, AdverseEventResolvedData):
            severe = payload.outcome == "fatal"
        elif isinstance(payload, AdverseEventReportedData | AdverseEventUpdatedData):
            severe = payload.serious is True or (payload.grade or 0) >= SDV_SERIOUS_AE_GRADE
        else:
            continue
        if severe:
            found.add(payload.ae_id)
    return frozenset(found)


def plan_item(entry: Entry, serious_aes: frozenset[str],
              percent: int = SDV_SAMPLING_PERCENT) -> PlanItem:
    """Where one effective clinical entry stands in the plan."""
    if entry.type in SDV_FULL_TYPES:
        return PlanItem(True, FULL_REASONS.get(entry.type, "100%"))
    if entry.type in AE_TYPES and entry.payload_as(AdverseEventPayload).ae_id in serious_aes:
        return PlanItem(True, SERIOUS_REASON)
    if sampled(entry.event_id, percent):
        return PlanItem(True, f"in the {percent}% sample")
    return PlanItem(False, f"not in the {percent}% sample")


def plan(history: ParticipantHistory, percent: int = SDV_SAMPLING_PERCENT
         ) -> dict[str, PlanItem]:
    """The plan for every effective clinical entry of a participant, by event id."""
    entries = history.effective_entries()
    serious = serious_adverse_events(entries)
    return {entry.event_id: plan_item(entry, serious, percent) for entry in entries}
