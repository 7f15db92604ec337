"""Small builders for response tests: reads from diameters, time-points from codes."""

from __future__ import annotations

from datetime import date, timedelta

from domain.response import (
    NewLesion,
    NonTargetLesion,
    NonTargetResponse,
    Read,
    Response,
    TargetLesion,
    TimepointResponse,
)

TREATMENT_START = date(2026, 1, 5)
BASELINE_ON = date(2025, 12, 29)


def week(n: int) -> date:
    """The scheduled scan n weeks after treatment start (week 6 = 2026-02-16)."""
    return TREATMENT_START + timedelta(weeks=n)


def day(n: int) -> date:
    """n elapsed days after treatment start."""
    return TREATMENT_START + timedelta(days=n)


def target(lesion_id: str, mm: float | None, organ: str = "liver", **extra: bool) -> TargetLesion:
    return TargetLesion(lesion_id=lesion_id, organ=organ, diameter_mm=mm, **extra)


def node(lesion_id: str, mm: float | None, organ: str = "lymph node") -> TargetLesion:
    return TargetLesion(lesion_id=lesion_id, organ=organ, nodal=True, diameter_mm=mm)


def non_target(lesion_id: str, status: str) -> NonTargetLesion:
    return NonTargetLesion.model_validate(
        {"lesion_id": lesion_id, "organ": "portal vein", "status": status}
    )


def new(
    lesion_id: str,
    mm: float | None,
    unequivocal: bool = True,
    typical_hcc: bool = True,
    organ: str = "liver",
) -> NewLesion:
    return NewLesion(
        lesion_id=lesion_id,
        organ=organ,
        diameter_mm=mm,
        unequivocal=unequivocal,
        typical_hcc=typical_hcc,
    )


def read(
    *targets: TargetLesion,
    non_targets: tuple[NonTargetLesion, ...] = (),
    new_lesions: tuple[NewLesion, ...] = (),
) -> Read:
    return Read(targets=list(targets), non_targets=list(non_targets), new_lesions=list(new_lesions))


def sized(*mm: float | None) -> Read:
    """Liver targets T1, T2, ... with these diameters."""
    return read(*(target(f"T{i}", value) for i, value in enumerate(mm, start=1)))


def timepoint(on: date, overall: str) -> TimepointResponse:
    """A time-point with only the overall response filled in meaningfully (for BOR tests)."""
    response = Response(overall)
    return TimepointResponse(
        on=on,
        sum_mm=None,
        target=response,
        non_target=NonTargetResponse.NONE,
        new_lesion=False,
        overall=response,
        backdated=False,
        nadir_mm=None,
    )


def history(*visits: tuple[int, str]) -> list[TimepointResponse]:
    """Time-points from (elapsed days after treatment start, overall response)."""
    return [timepoint(day(days), overall) for days, overall in visits]
