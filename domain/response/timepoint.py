"""Time-point responses of one participant under one criterion (docs/rules.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.protocol import Criterion
from domain.response.measures import measure_targets
from domain.response.new_lesions import new_lesion_findings
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
    ordered = sorted(followups, key=lambda item: item[0])
    findings = new_lesion_findings(criterion, [read for _, read in ordered])
    baseline_mm = _baseline_total_mm(baseline)
    nadir_mm = baseline_mm
    responses: list[TimepointResponse] = []
    for (on, read), finding in zip(ordered, findings, strict=True):
        measured = measure_targets(baseline, read)
        if baseline_mm is None or nadir_mm is None:
            target = Response.NE
        else:
            target = target_response(criterion, baseline, measured, baseline_mm, nadir_mm)
        non_target = non_target_response(read)
        responses.append(
            TimepointResponse(
                on=on,
                sum_mm=_as_float(measured.total_mm) if baseline_mm is not None else None,
                target=target,
                non_target=non_target,
                new_lesion=finding.counted,
                overall=overall_response(target, non_target, finding.counted),
                backdated=finding.backdated,
                nadir_mm=_as_float(nadir_mm),
            )
        )
        if nadir_mm is not None and measured.total_mm is not None:
            nadir_mm = min(nadir_mm, measured.total_mm)
    return responses
