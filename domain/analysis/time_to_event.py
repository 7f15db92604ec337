"""One participant's OS, PFS and DOR at a clinical cutoff (docs/rules.md "Days" and "Endpoints")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from domain.protocol import DAYS_PER_MONTH
from domain.schedule import MISSED_GAP_DAYS

NO_ADEQUATE_ASSESSMENT = "no adequate post-baseline assessment"
NEW_ANTICANCER_THERAPY = "new anticancer therapy before progression"
TWO_MISSED_ASSESSMENTS = "two missed assessments"
NO_EVENT_BY_CUTOFF = "no progression or death by cutoff"
ALIVE_AT_LAST_CONTACT = "alive at last contact"
ALIVE_AT_CUTOFF = "alive at cutoff"


class AdequateRead(NamedTuple):
    """A read with a non-NE overall time-point response under one criterion."""

    on: date
    is_pd: bool


@dataclass(frozen=True, slots=True)
class ParticipantOutcomes:
    """One participant under one criterion; PD is the first read with is_pd."""

    treatment_start_on: date | None
    adequate_reads: Sequence[AdequateRead]
    death_on: date | None = None
    last_known_alive_on: date | None = None
    offprotocol_therapy_on: date | None = None
    response_start_on: date | None = None


@dataclass(frozen=True, slots=True)
class TimeToEvent:
    """Days = end - start + 1; censor_reason is None for an event."""

    days: int
    event: bool
    censor_reason: str | None

    @property
    def months(self) -> float:
        """docs/rules.md "Days": months = days / 30.4375."""
        return self.days / DAYS_PER_MONTH


def time_to_event_days(start: date, end: date) -> int:
    """docs/rules.md "Days": end - start + 1, so an event on the start date is day 1."""
    if end < start:
        raise ValueError(f"an endpoint cannot end ({end}) before it starts ({start})")
    return (end - start).days + 1


def overall_survival(outcomes: ParticipantOutcomes, cutoff: date) -> TimeToEvent | None:
    """OS from treatment start: death on or before D, else censored when last known alive (<= D)."""
    start = outcomes.treatment_start_on
    if start is None:
        return None
    death = outcomes.death_on
    if death is not None and death <= cutoff:
        return TimeToEvent(time_to_event_days(start, death), True, None)
    known_alive = [start, *(read.on for read in outcomes.adequate_reads)]
    known_alive += [d for d in (outcomes.last_known_alive_on, death) if d is not None]
    alive_until = max(known_alive)
    if alive_until >= cutoff:
        return TimeToEvent(time_to_event_days(start, cutoff), False, ALIVE_AT_CUTOFF)
    return TimeToEvent(time_to_event_days(start, alive_until), False, ALIVE_AT_LAST_CONTACT)


def progression_free_survival(outcomes: ParticipantOutcomes, cutoff: date) -> TimeToEvent | None:
    """PFS from treatment start to first PD or death, censored per FDA 2018; None if untreated."""
    if outcomes.treatment_start_on is None:
        return None
    return _until_progression(outcomes, outcomes.treatment_start_on, cutoff)


def duration_of_response(outcomes: ParticipantOutcomes, cutoff: date) -> TimeToEvent | None:
    """DOR of a confirmed responder: from the response's first read to PD or death, as PFS."""
    start = outcomes.response_start_on
    if start is None or outcomes.treatment_start_on is None or start > cutoff:
        return None
    return _until_progression(outcomes, start, cutoff)


def _until_progression(outcomes: ParticipantOutcomes, start: date, cutoff: date) -> TimeToEvent:
    """FDA 2018 PFS censoring: missed reads, new therapy, no assessment, no event by D."""
    therapy = outcomes.offprotocol_therapy_on
    if therapy is not None and therapy > cutoff:
        therapy = None
    post_start = sorted(read for read in outcomes.adequate_reads if start < read.on <= cutoff)
    reads = [read for read in post_start if therapy is None or read.on < therapy]
    event_on = _first_event_on(reads, outcomes.death_on, cutoff, therapy)
    if event_on is not None:
        last_read_on = max(
            (read.on for read in reads if not read.is_pd and read.on <= event_on), default=start
        )
        if (event_on - last_read_on).days > MISSED_GAP_DAYS:
            return _censored(start, last_read_on, TWO_MISSED_ASSESSMENTS)
        return TimeToEvent(time_to_event_days(start, event_on), True, None)
    if not post_start:
        return _censored(start, start, NO_ADEQUATE_ASSESSMENT)
    last_read_on = reads[-1].on if reads else start
    if therapy is not None:
        return _censored(start, last_read_on, NEW_ANTICANCER_THERAPY)
    return _censored(start, last_read_on, NO_EVENT_BY_CUTOFF)


def _first_event_on(
    reads: Sequence[AdequateRead], death_on: date | None, cutoff: date, therapy: date | None
) -> date | None:
    """The earlier of the first PD read and a death, both on or before D and before new therapy."""
    candidates = [read.on for read in reads if read.is_pd][:1]
    if death_on is not None and death_on <= cutoff and (therapy is None or death_on < therapy):
        candidates.append(death_on)
    return min(candidates, default=None)


def _censored(start: date, on: date, reason: str) -> TimeToEvent:
    """A censored time ending at `on`."""
    return TimeToEvent(time_to_event_days(start, on), False, reason)
