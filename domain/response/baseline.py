"""Checks a read must pass before it is recorded (docs/rules.md, "Baseline checks")."""

from __future__ import annotations

from domain.protocol import (
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    MIN_NODAL_TARGET_SHORT_AXIS_MM,
    MIN_TARGET_DIAMETER_MM,
    MRECIST,
    Criterion,
)
from domain.response.measures import exact_mm
from domain.response.reads import Read, TargetLesion

LYMPH_NODES = "lymph nodes"
"""RECIST 1.1 §3.3.2: all lymph nodes together count as one organ."""


def _mm(value: float) -> str:
    """8.0 -> "8.0", 9.95 -> "9.95": one decimal unless that would hide the real value."""
    short = f"{value:.1f}"
    return short if float(short) == value else repr(value)


def _ids(targets: list[TargetLesion]) -> str:
    return ", ".join(target.lesion_id for target in targets)


def has_measurable_disease(baseline: Read) -> bool:
    """A participant is evaluable under a criterion only with at least one baseline target."""
    return bool(baseline.targets)


def _count_problems(criterion: Criterion, baseline: Read) -> list[str]:
    """RECIST 1.1 §3.3.2: at most five targets, at most two per organ."""
    problems: list[str] = []
    if len(baseline.targets) > MAX_TARGETS:
        problems.append(
            f"{criterion} baseline has {len(baseline.targets)} target lesions; "
            f"at most {MAX_TARGETS} are allowed"
        )
    by_organ: dict[str, list[TargetLesion]] = {}
    for target in baseline.targets:
        organ = LYMPH_NODES if target.nodal else target.organ.casefold()
        by_organ.setdefault(organ, []).append(target)
    for organ, targets in by_organ.items():
        if len(targets) > MAX_TARGETS_PER_ORGAN:
            name = LYMPH_NODES if organ == LYMPH_NODES else targets[0].organ
            note = " (all lymph nodes count as one organ)" if organ == LYMPH_NODES else ""
            problems.append(
                f"{criterion} baseline has {len(targets)} target lesions in {name} "
                f"({_ids(targets)}); at most {MAX_TARGETS_PER_ORGAN} per organ are allowed{note}"
            )
    return problems


def _size_problem(criterion: Criterion, target: TargetLesion) -> str | None:
    """RECIST 1.1 §3.1.1 / mRECIST: a baseline target must be measured and large enough."""
    where = f"{criterion} baseline target {target.lesion_id} ({target.organ})"
    if target.too_small:
        return f"{where} is marked too small to measure; a baseline target must be measurable"
    if target.diameter_mm is None:
        return f"{where} has no diameter; every baseline target must be measured"
    size = exact_mm(target.diameter_mm)
    if criterion == MRECIST:
        if size < MIN_TARGET_DIAMETER_MM:
            return (
                f"{where} has a viable diameter of {_mm(target.diameter_mm)} mm; "
                f"a target needs at least {MIN_TARGET_DIAMETER_MM} mm"
            )
    elif target.nodal:
        if size < MIN_NODAL_TARGET_SHORT_AXIS_MM:
            return (
                f"{where} has a short axis of {_mm(target.diameter_mm)} mm; "
                f"a nodal target needs at least {MIN_NODAL_TARGET_SHORT_AXIS_MM} mm"
            )
    elif size < MIN_TARGET_DIAMETER_MM:
        return (
            f"{where} has a longest diameter of {_mm(target.diameter_mm)} mm; "
            f"a target needs at least {MIN_TARGET_DIAMETER_MM} mm"
        )
    return None


def baseline_problems(criterion: Criterion, baseline: Read) -> list[str]:
    """Why a baseline read cannot be recorded under `criterion`; empty when it can."""
    problems = _count_problems(criterion, baseline)
    for target in baseline.targets:
        problem = _size_problem(criterion, target)
        if problem is not None:
            problems.append(problem)
    if baseline.new_lesions:
        named = ", ".join(lesion.lesion_id for lesion in baseline.new_lesions)
        problems.append(f"{criterion} baseline lists new lesions ({named}); a baseline has none")
    return problems


def followup_problems(criterion: Criterion, baseline: Read, followup: Read) -> list[str]:
    """A follow-up names baseline targets only; a missing or null target is "not assessed"."""
    known = [target.lesion_id for target in baseline.targets]
    listed = ", ".join(known) if known else "none"
    return [
        f"{criterion} follow-up target {target.lesion_id} ({target.organ}) is not a baseline "
        f"target (baseline targets: {listed})"
        for target in followup.targets
        if target.lesion_id not in known
    ]
