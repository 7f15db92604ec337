"""Time-point responses of one participant under one criterion (docs/rules.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.protocol import Criterion
from domain.response.measures import measure_targets
from domain.response.new_lesions import NewLesionFinding, new_lesion_findings, qualifies
from domain.response.non_target import non_target_response
from domain.response.overall import overall_response
from domain.response.reads import Read
from domain.response.responses import NonTargetResponse, Response
from domain.response.target import target_response


@dataclass(frozen=True)
class TimepointResponse:
    """The response at one follow-up read."""

    on: date
    sum_mm: float | None
    """Target sum; None when any baseline target was not assessed."""
    target: Response
    non_target: NonTargetResponse
    new_lesion: bool
    overall: Response
    backdated: bool
    """A new lesion counts here only because it qualified at a later read."""
    nadir_mm: float | None
    """The reference for PD at this read; None when the baseline has no measured targets."""


def _baseline_total_mm(baseline: Read) -> Decimal | None:
    """The baseline sum; None when there is nothing to measure against (not evaluable)."""
    if not baseline.targets:
        return None
    return measure_targets(baseline, baseline).total_mm


def _as_float(mm: Decimal | None) -> float | None:
    return None if mm is None else float(mm)


def evaluate(
    criterion: Criterion, baseline: Read, followups: Sequence[tuple[date, Read]]
) -> list[TimepointResponse]:
    """Assess every follow-up in date order; the nadir ignores NE reads, new lesions back-date."""
    return list(evaluation(criterion, baseline, followups).points)


@dataclass(frozen=True)
class Evaluation:
    """`evaluate`'s responses, with what assessing one more, later read needs."""

    points: tuple[TimepointResponse, ...]
    reads: tuple[Read, ...]
    """The follow-up reads, in date order."""
    baseline_mm: Decimal | None
    nadir_mm: Decimal | None
    """The nadir after the last read: the reference for the next one."""


def evaluation(
    criterion: Criterion, baseline: Read, followups: Sequence[tuple[date, Read]]
) -> Evaluation:
    """`evaluate`, keeping the state a later read continues from (`assess_next`)."""
    ordered = sorted(followups, key=lambda item: item[0])
    findings = new_lesion_findings(criterion, [read for _, read in ordered])
    baseline_mm = _baseline_total_mm(baseline)
    nadir_mm = baseline_mm
    responses: list[TimepointResponse] = []
    for (on, read), finding in zip(ordered, findings, strict=True):
        point, nadir_mm = _assess(criterion, baseline, baseline_mm, nadir_mm, on, read, finding)
        responses.append(point)
    return Evaluation(tuple(responses), tuple(read for _, read in ordered), baseline_mm,
                      nadir_mm)


def assess_next(criterion: Criterion, baseline: Read, before: Evaluation, on: date, read: Read
                ) -> Evaluation | None:
    """`evaluation` of the follow-ups `before` holds plus one read dated after all of them,
    assessing only that read. None when that read qualifies a new lesion an earlier read
    already showed (PD back-dates to it, changing an earlier response): evaluate them all."""
    if before.points and on <= before.points[-1].on:
        return None
    qualifying = {lesion.lesion_id for lesion in read.new_lesions
                  if qualifies(criterion, lesion)}
    if qualifying and any(lesion.lesion_id in qualifying
                          for earlier in before.reads for lesion in earlier.new_lesions):
        return None
    finding = NewLesionFinding(counted=bool(qualifying), backdated=False)
    point, nadir_mm = _assess(criterion, baseline, before.baseline_mm, before.nadir_mm, on, read,
                              finding)
    return Evaluation((*before.points, point), (*before.reads, read), before.baseline_mm,
                      nadir_mm)


def _assess(criterion: Criterion, baseline: Read, baseline_mm: Decimal | None,
            nadir_mm: Decimal | None, on: date, read: Read, finding: NewLesionFinding
            ) -> tuple[TimepointResponse, Decimal | None]:
    """One read's response against the nadir before it, and the nadir after it."""
    measured = measure_targets(baseline, read)
    if baseline_mm is None or nadir_mm is None:
        target = Response.NE
    else:
        target = target_response(criterion, baseline, measured, baseline_mm, nadir_mm)
    non_target = non_target_response(read)
    point = TimepointResponse(
        on=on,
        sum_mm=_as_float(measured.total_mm) if baseline_mm is not None else None,
        target=target,
        non_target=non_target,
        new_lesion=finding.counted,
        overall=overall_response(target, non_target, finding.counted),
        backdated=finding.backdated,
        nadir_mm=_as_float(nadir_mm),
    )
    if nadir_mm is not None and measured.total_mm is not None:
        nadir_mm = min(nadir_mm, measured.total_mm)
    return point, nadir_mm
