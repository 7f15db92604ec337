"""Best overall response, confirmed and unconfirmed, per criterion (docs/rules.md, "BOR")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from domain.protocol import CONFIRM_DAYS, MAX_NE_BETWEEN_CONFIRMATION, SD_MIN_DAYS
from domain.response.responses import Response
from domain.response.timepoint import TimepointResponse


class Timepoint(Protocol):
    """What BOR reads of a time-point response: its date and overall response."""

    @property
    def on(self) -> date: ...

    @property
    def overall(self) -> Response: ...


T = TypeVar("T", bound=Timepoint)

_RANK = {Response.CR: 0, Response.PR: 1, Response.SD: 2, Response.PD: 3, Response.NE: 4}
"""Unconfirmed BOR: best of CR > PR > SD > PD > NE."""


@dataclass(frozen=True)
class BestOverallResponse:
    """Confirmed BOR (the primary analysis) and unconfirmed BOR under one criterion."""

    confirmed: Response
    unconfirmed: Response
    response_start_on: date | None
    """First read of the confirmed CR/PR (start of duration of response); None otherwise."""
    first_pd_on: date | None
    """First PD after treatment start and before off-protocol therapy; None without one."""


@dataclass(frozen=True)
class _Counted:
    on: date
    response: Response
    """The time-point overall response, as read."""
    elapsed_days: int

    @property
    def for_best(self) -> Response:
        """SD counts only >= SD_MIN_DAYS elapsed days after treatment start; earlier SD is NE."""
        if self.response is Response.SD and self.elapsed_days < SD_MIN_DAYS:
            return Response.NE
        return self.response


def reads_counted(
    timepoints: Sequence[T],
    treatment_start_on: date,
    therapy_start_on: date | None = None,
) -> list[T]:
    """Reads after treatment start and before off-protocol therapy, up to the first PD."""
    counted: list[T] = []
    for timepoint in sorted(timepoints, key=lambda tp: tp.on):
        if timepoint.on <= treatment_start_on:
            continue
        if therapy_start_on is not None and timepoint.on >= therapy_start_on:
            break
        counted.append(timepoint)
        if timepoint.overall is Response.PD:
            break
    return counted


def _confirmed_from(
    reads: list[_Counted], ends: frozenset[Response], between: frozenset[Response]
) -> date | None:
    """Earliest read in `ends` confirmed by a later one >= CONFIRM_DAYS on, with only
    `between` responses (at most MAX_NE_BETWEEN_CONFIRMATION NE) in between.

    Reads keep their time-point response here: an SD breaks a confirmation even before
    SD_MIN_DAYS, since the response was not maintained."""
    for first_index, first in enumerate(reads):
        if first.response not in ends:
            continue
        ne_between = 0
        for later in reads[first_index + 1 :]:
            if later.response in ends and (later.on - first.on).days >= CONFIRM_DAYS:
                return first.on
            if later.response not in between:
                break
            if later.response is Response.NE:
                ne_between += 1
                if ne_between > MAX_NE_BETWEEN_CONFIRMATION:
                    break
    return None


_CR = frozenset({Response.CR})
_CR_NE = frozenset({Response.CR, Response.NE})
_CR_PR = frozenset({Response.CR, Response.PR})
_CR_PR_NE = frozenset({Response.CR, Response.PR, Response.NE})
_SD_OR_BETTER = frozenset({Response.CR, Response.PR, Response.SD})


def _confirmed(reads: list[_Counted]) -> tuple[Response, date | None]:
    """Confirmed CR, else confirmed PR, else SD (a CR/PR/SD read at >= 42 days), PD, NE."""
    response_start_on = _confirmed_from(reads, _CR_PR, _CR_PR_NE)
    if _confirmed_from(reads, _CR, _CR_NE) is not None:
        return Response.CR, response_start_on
    if response_start_on is not None:
        return Response.PR, response_start_on
    if any(r.response in _SD_OR_BETTER and r.elapsed_days >= SD_MIN_DAYS for r in reads):
        return Response.SD, None
    if any(r.response is Response.PD for r in reads):
        return Response.PD, None
    return Response.NE, None


def best_overall_response(
    timepoints: Sequence[Timepoint],
    treatment_start_on: date,
    therapy_start_on: date | None = None,
) -> BestOverallResponse:
    """BOR from the reads that count; no evaluable follow-up is NE (kept in the denominator)."""
    counted = reads_counted(timepoints, treatment_start_on, therapy_start_on)
    reads = [_Counted(tp.on, tp.overall, (tp.on - treatment_start_on).days) for tp in counted]
    unconfirmed = min((r.for_best for r in reads), key=_RANK.__getitem__, default=Response.NE)
    confirmed, response_start_on = _confirmed(reads)
    last = counted[-1] if counted else None
    first_pd_on = last.on if last is not None and last.overall is Response.PD else None
    return BestOverallResponse(confirmed, unconfirmed, response_start_on, first_pd_on)


def first_progression_on(
    timepoints: Sequence[TimepointResponse], after: date | None = None
) -> date | None:
    """The first PD read (back-dated PD included), optionally only reads after `after`."""
    for timepoint in sorted(timepoints, key=lambda tp: tp.on):
        if after is not None and timepoint.on <= after:
            continue
        if timepoint.overall is Response.PD:
            return timepoint.on
    return None
