"""Tumour kinetics: how each target's whole and viable diameters move after treatment start,
and how a progression looks in the measures.

Every scan is read twice, as HCC after TACE is read: RECIST 1.1 measures the whole lesion,
which shrinks slowly because necrotic, lipiodol-laden tumour keeps its size; mRECIST measures
the viable (arterially enhancing) tumour, which TACE kills within weeks. So mRECIST shows more
and earlier responses (and the only complete responses). Viable tumour regrowing inside a
necrotic lesion is mRECIST PD scans before the whole lesion grows 20 % (`regrown_viable`, then
`grown_whole`); the kinetics never let anything but the planned progression look like PD
(MAX_STABLE_GROWTH, STABLE_GUARD).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from services.seed.baseline import Lesion, mm
from services.seed.disease import DiseaseCourse

MAX_STABLE_GROWTH = 1.10
"""Before progression a target grows at most 10 %; a read at >= 1.15 x nadir is held back."""
STABLE_GUARD = 1.15


def _mm_up(value: float) -> float:
    """Rounded up to 0.1 mm, so a sum built to cross a threshold still crosses it."""
    return math.ceil(round(value * 10, 6)) / 10


def _measured(raw: float) -> tuple[float | None, bool, float]:
    """A raw size as a reader records it: (diameter_mm, too_small, mm counted in the sum).

    Under 3 mm nothing is seen (0); 3-5 mm is present but too small to measure (5 mm)."""
    if raw < 3.0:
        return 0.0, False, 0.0
    if raw < 5.0:
        return None, True, 5.0
    value = mm(raw)
    return value, False, value


@dataclass
class _LesionState:
    lesion: Lesion
    viable_nadir: float
    whole_nadir: float
    viable_mm: float
    whole_mm: float


@dataclass(frozen=True)
class Measure:
    """One target at one read, both criteria: what is recorded and what it counts as."""

    lesion: Lesion
    viable: tuple[float | None, bool, float]
    whole: tuple[float | None, bool, float]
    assessed: bool = True


class TumourKinetics:
    """Each target approaches its nadir exponentially: viable = V0 * (n + (1 - n) e^(-t/tau)).

    Intrahepatic viable tumour falls to the class's nadir (0 for mRECIST CR) with a short tau;
    the whole lesion falls to 1 - k (1 - nadir) with a 1.5-2.5x longer tau, so the RECIST 1.1
    sum always lags and stays above the mRECIST sum. Extrahepatic targets respond to the
    systemic drugs alone, at the whole-lesion pace, identically under both criteria. Values
    carry +-3 % read noise but never rise before progression (running minimum), so nothing
    but the planned progression can look like PD."""

    def __init__(self, rng: random.Random, course: DiseaseCourse, targets: list[Lesion]) -> None:
        self.rng = rng
        self.course = course
        self.states: list[_LesionState] = []
        for lesion in targets:
            viable_nadir = self._lesion_nadir(lesion)
            whole_nadir = (viable_nadir if viable_nadir >= 1.0
                           else 1.0 - course.whole_shrink_share * (1.0 - viable_nadir))
            if not lesion.intrahepatic:
                floor = 0.4 if lesion.nodal else 0.0
                viable_nadir = whole_nadir = max(floor, whole_nadir)
            self.states.append(_LesionState(lesion, viable_nadir, whole_nadir,
                                            lesion.viable_mm, lesion.whole_mm))

    def _lesion_nadir(self, lesion: Lesion) -> float:
        nadir = self.course.viable_nadir
        if self.course.response_class == "complete":
            return 0.0
        if nadir >= 1.0:
            return min(MAX_STABLE_GROWTH, nadir * self.rng.uniform(0.95, 1.05))
        lesion_nadir = min(0.98, nadir * self.rng.uniform(0.85, 1.15))
        return 0.0 if lesion_nadir < 0.10 else lesion_nadir

    def advance(self, day: int) -> None:
        """Move every target to `day` after treatment start."""
        course = self.course
        for state in self.states:
            lesion = state.lesion
            viable_tau = course.viable_tau_days if lesion.intrahepatic else course.whole_tau_days
            viable = lesion.viable_mm * _approach(state.viable_nadir, viable_tau, day)
            whole = lesion.whole_mm * _approach(state.whole_nadir, course.whole_tau_days, day)
            if not lesion.intrahepatic:
                viable = whole
            if state.viable_nadir < 1.0:
                viable = min(state.viable_mm, viable * self.rng.uniform(0.97, 1.03))
            if state.whole_nadir < 1.0:
                whole = min(state.whole_mm, whole * self.rng.uniform(0.97, 1.03))
            state.viable_mm = viable
            state.whole_mm = max(whole, viable)

    def measures(self) -> list[Measure]:
        return [Measure(s.lesion, _measured(s.viable_mm), _measured(s.whole_mm))
                for s in self.states]


def _approach(nadir: float, tau: float, day: int) -> float:
    return nadir + (1.0 - nadir) * math.exp(-day / tau)


def target_sums(measures: list[Measure]) -> tuple[float, float]:
    """(mRECIST viable sum, RECIST 1.1 whole sum), in counted mm."""
    return (sum(m.viable[2] for m in measures), sum(m.whole[2] for m in measures))


def grown_target(measures: list[Measure], nadir: tuple[float, float], rng: random.Random
                 ) -> list[Measure]:
    """Target growth: the largest liver target regrows until both sums are >= 1.25 x nadir
    and >= nadir + 6 mm (PD under both criteria, with margin)."""
    index = max(range(len(measures)), key=lambda i: (measures[i].lesion.intrahepatic,
                                                       measures[i].lesion.whole_mm))
    viable_sum, whole_sum = target_sums(measures)
    factor = rng.uniform(1.25, 1.6)
    step = rng.uniform(6.0, 15.0)
    viable_goal = max(nadir[0] * factor, nadir[0] + step)
    whole_goal = max(nadir[1] * factor, nadir[1] + step)
    chosen = measures[index]
    viable = _mm_up(chosen.viable[2] + max(0.0, viable_goal - viable_sum))
    whole = max(viable, _mm_up(chosen.whole[2] + max(0.0, whole_goal - whole_sum)))
    grown = list(measures)
    grown[index] = Measure(chosen.lesion, (viable, False, viable), (whole, False, whole))
    return grown


def _regrowth_target(measures: list[Measure]) -> int:
    """The liver target where viable tumour regrows: the one with the most necrosis."""
    return max(range(len(measures)), key=lambda i: (measures[i].lesion.intrahepatic,
                                                      measures[i].whole[2] - measures[i].viable[2],
                                                      measures[i].lesion.whole_mm))


def _crosses_recist(whole_sum: float, nadir: float) -> bool:
    """RECIST 1.1 target PD, with a margin: >= 1.15 x nadir and >= nadir + 4 mm."""
    return whole_sum >= STABLE_GUARD * nadir and whole_sum - nadir >= 4.0


def regrown_viable(measures: list[Measure], nadir: tuple[float, float], rng: random.Random,
                   *, whole_may_cross: bool) -> list[Measure] | None:
    """Viable (arterially enhancing) tumour regrows in one liver target until the viable sum is
    >= 1.25 x its nadir and >= nadir + 8 mm (mRECIST PD, with margin); the whole lesion, mostly
    necrotic, keeps its diameter unless the viable part outgrows it. None when that would also
    make RECIST 1.1 PD and `whole_may_cross` is False."""
    index = _regrowth_target(measures)
    chosen = measures[index]
    viable_sum, whole_sum = target_sums(measures)
    goal = max(nadir[0] * rng.uniform(1.25, 1.6), nadir[0] + rng.uniform(8.0, 18.0))
    viable = _mm_up(chosen.viable[2] + max(0.0, goal - viable_sum))
    whole = max(viable, chosen.whole[2])
    if not whole_may_cross and _crosses_recist(whole_sum - chosen.whole[2] + whole, nadir[1]):
        return None
    regrown = list(measures)
    regrown[index] = Measure(chosen.lesion, (viable, False, viable),
                             chosen.whole if whole == chosen.whole[2] else (whole, False, whole))
    return regrown


def grown_whole(measures: list[Measure], whole_nadir: float, rng: random.Random
                ) -> list[Measure]:
    """The whole lesion with regrown viable tumour now grows too, until the RECIST 1.1 sum is
    >= 1.25 x its nadir and >= nadir + 6 mm (PD, with margin)."""
    index = max(range(len(measures)), key=lambda i: (measures[i].lesion.intrahepatic,
                                                       measures[i].viable[2]))
    chosen = measures[index]
    _, whole_sum = target_sums(measures)
    goal = max(whole_nadir * rng.uniform(1.25, 1.5), whole_nadir + rng.uniform(6.0, 14.0))
    whole = _mm_up(chosen.whole[2] + max(0.0, goal - whole_sum))
    viable = min(whole, _mm_up(max(chosen.viable[2], 5.0) * rng.uniform(1.0, 1.3)))
    grown = list(measures)
    grown[index] = Measure(chosen.lesion, (viable, False, viable), (whole, False, whole))
    return grown


def baseline_measures(targets: list[Lesion]) -> list[Measure]:
    return [Measure(t, (t.viable_mm, False, t.viable_mm), (t.whole_mm, False, t.whole_mm))
            for t in targets]
