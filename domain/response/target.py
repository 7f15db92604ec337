"""Target response at one read, first match wins: PD, NE, CR, PR, SD (docs/rules.md)."""

from __future__ import annotations

from decimal import Decimal

from domain.protocol import (
    MRECIST,
    NODAL_NORMAL_SHORT_AXIS_MM,
    PD_ABSOLUTE_INCREASE_MM,
    PD_RELATIVE_INCREASE,
    PR_RELATIVE_SUM,
    Criterion,
)
from domain.response.measures import TargetMeasurement
from domain.response.reads import Read
from domain.response.responses import Response


def is_progression(criterion: Criterion, total_mm: Decimal, nadir_mm: Decimal) -> bool:
    """RECIST 1.1 §4.3.1: >= 1.2 x nadir and +5 mm; mRECIST: >= 1.2 x nadir and above nadir."""
    numerator, denominator = PD_RELATIVE_INCREASE
    if denominator * total_mm < numerator * nadir_mm:
        return False
    if criterion == MRECIST:
        return total_mm > nadir_mm
    return total_mm - nadir_mm >= PD_ABSOLUTE_INCREASE_MM


def is_complete_response(criterion: Criterion, baseline: Read, measured: TargetMeasurement) -> bool:
    """RECIST 1.1: non-nodal targets 0 and nodes < 10 mm short axis; mRECIST: no viable tumour."""
    nodal = {target.lesion_id: target.nodal for target in baseline.targets}
    for lesion_id, mm in measured.by_id.items():
        if mm is None:
            return False
        if criterion != MRECIST and nodal[lesion_id]:
            if mm >= NODAL_NORMAL_SHORT_AXIS_MM:
                return False
        elif mm != 0:
            return False
    return True


def is_partial_response(total_mm: Decimal, baseline_mm: Decimal) -> bool:
    """PR: sum <= 0.7 x baseline, compared exactly (10 x sum <= 7 x baseline): -30.0% is PR."""
    numerator, denominator = PR_RELATIVE_SUM
    return denominator * total_mm <= numerator * baseline_mm


def target_response(
    criterion: Criterion,
    baseline: Read,
    measured: TargetMeasurement,
    baseline_mm: Decimal,
    nadir_mm: Decimal,
) -> Response:
    """PD applies even with targets not assessed when the assessed ones alone meet it."""
    if is_progression(criterion, measured.assessed_total_mm, nadir_mm):
        return Response.PD
    total_mm = measured.total_mm
    if total_mm is None:
        return Response.NE
    if is_complete_response(criterion, baseline, measured):
        return Response.CR
    if is_partial_response(total_mm, baseline_mm):
        return Response.PR
    return Response.SD
