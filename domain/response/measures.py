"""Target lesion measurements in exact decimal millimetres (docs/rules.md, "Target sum")."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.protocol import TOO_SMALL_TO_MEASURE_MM
from domain.response.reads import Read, TargetLesion


def exact_mm(value: float) -> Decimal:
    """A float as the decimal it was written as (42.3 -> Decimal("42.3")), for exact rules."""
    return Decimal(repr(value))


def lesion_mm(lesion: TargetLesion) -> Decimal | None:
    """A target's contribution to the sum: `too_small` = 5 mm, absent = 0, null = not assessed."""
    if lesion.too_small:
        return Decimal(TOO_SMALL_TO_MEASURE_MM)
    if lesion.diameter_mm is None:
        return None
    return exact_mm(lesion.diameter_mm)


@dataclass(frozen=True)
class TargetMeasurement:
    """The baseline targets as measured at one read."""

    by_id: dict[str, Decimal | None]
    """Each baseline target id -> its mm, or None when missing or not assessed."""

    @property
    def complete(self) -> bool:
        """Every baseline target was assessed, so the sum is known."""
        return all(mm is not None for mm in self.by_id.values())

    @property
    def assessed_total_mm(self) -> Decimal:
        """The sum over the targets that were assessed (the whole sum when complete)."""
        return sum((mm for mm in self.by_id.values() if mm is not None), Decimal(0))

    @property
    def total_mm(self) -> Decimal | None:
        """The target sum, or None when any target was not assessed."""
        return self.assessed_total_mm if self.complete else None


def measure_targets(baseline: Read, read: Read) -> TargetMeasurement:
    """Measure the baseline targets at `read`; ids the baseline does not know are ignored."""
    seen = {lesion.lesion_id: lesion for lesion in read.targets}
    by_id: dict[str, Decimal | None] = {}
    for target in baseline.targets:
        lesion = seen.get(target.lesion_id)
        by_id[target.lesion_id] = None if lesion is None else lesion_mm(lesion)
    return TargetMeasurement(by_id=by_id)
