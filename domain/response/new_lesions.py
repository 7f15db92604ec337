"""Which new lesions count, including PD back-dated to a lesion's first appearance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.protocol import MRECIST, MRECIST_NEW_LESION_MIN_MM, Criterion
from domain.response.measures import exact_mm
from domain.response.reads import NewLesion, Read


def qualifies(criterion: Criterion, lesion: NewLesion) -> bool:
    """RECIST 1.1: any unequivocal new lesion; mRECIST: unequivocal, typical of HCC and >= 10 mm."""
    if not lesion.unequivocal:
        return False
    if criterion != MRECIST:
        return True
    return (
        lesion.typical_hcc
        and lesion.diameter_mm is not None
        and exact_mm(lesion.diameter_mm) >= MRECIST_NEW_LESION_MIN_MM
    )


@dataclass(frozen=True)
class NewLesionFinding:
    """Whether a read counts a new lesion, and whether only because it qualified later."""

    counted: bool
    backdated: bool


def new_lesion_findings(criterion: Criterion, reads: Sequence[Read]) -> list[NewLesionFinding]:
    """For chronological reads: a lesion that qualifies later makes PD where it appeared."""
    last_qualifying: dict[str, int] = {}
    for index, read in enumerate(reads):
        for lesion in read.new_lesions:
            if qualifies(criterion, lesion):
                last_qualifying[lesion.lesion_id] = index
    findings: list[NewLesionFinding] = []
    for index, read in enumerate(reads):
        now = any(qualifies(criterion, lesion) for lesion in read.new_lesions)
        later = any(
            last_qualifying.get(lesion.lesion_id, -1) > index for lesion in read.new_lesions
        )
        findings.append(NewLesionFinding(counted=now or later, backdated=later and not now))
    return findings
