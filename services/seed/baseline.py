"""A participant at enrollment: baseline characteristics typical of TACE + camrelizumab +
apatinib cohorts (the populations of the studies cited in services/seed/disease.py), and the
tumour burden the baseline scan reads: 1-5 targets, liver first, each with its whole and its
viable (arterially enhancing) diameter, and the non-target lesions."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.seed.trial_calendar import days


def mm(value: float) -> float:
    """Diameters are read to 0.1 mm."""
    return round(value, 1)


@dataclass(frozen=True)
class Lesion:
    """A baseline target: whole longest diameter (node: short axis) and viable diameter."""

    lesion_id: str
    organ: str
    nodal: bool
    intrahepatic: bool
    whole_mm: float
    viable_mm: float


@dataclass(frozen=True)
class NonTarget:
    lesion_id: str
    organ: str
    intrahepatic: bool


def enrollment_data(rng: random.Random, site_id: str, enrolled_on: date) -> dict[str, Any]:
    """Baseline characteristics typical of TACE + camrelizumab + apatinib cohorts."""
    age = min(82, max(28, round(rng.gauss(56, 10))))
    pvtt = rng.random() < 0.40
    extrahepatic = rng.random() < 0.22
    ecog = rng.choices((0, 1, 2), weights=(0.60, 0.37, 0.03))[0]
    bclc = "C" if (pvtt or extrahepatic or ecog > 0) else "B"
    afp = min(400_000.0, round(math.exp(rng.gauss(math.log(180.0), 2.2)), 1))
    return {
        "site_id": site_id,
        "consented_on": (enrolled_on - days(rng.randint(0, 10))).isoformat(),
        "sex": "M" if rng.random() < 0.86 else "F",
        "birth_year": enrolled_on.year - age,
        "ecog": ecog,
        "child_pugh": rng.choices(("A5", "A6", "B7"), weights=(0.58, 0.32, 0.10))[0],
        "bclc": bclc,
        "pvtt": pvtt,
        "extrahepatic_spread": extrahepatic,
        "etiology": rng.choices(("HBV", "HCV", "alcohol", "NAFLD", "other"),
                                weights=(0.80, 0.05, 0.07, 0.03, 0.05))[0],
        "afp_ng_ml": afp,
    }


def _liver_lesion(rng: random.Random, lesion_id: str, median_mm: float) -> Lesion:
    whole = mm(min(140.0, max(12.0, rng.lognormvariate(math.log(median_mm), 0.45))))
    viable = mm(whole * rng.uniform(0.70, 1.0))
    if viable < 10.0:
        viable = whole
    return Lesion(lesion_id, "liver", False, True, whole, viable)


def tumour_burden(rng: random.Random, enrollment: dict[str, Any]
                  ) -> tuple[list[Lesion], list[NonTarget]]:
    """1-5 targets (at most 2 per organ), liver first; PVTT and further lesions as non-targets."""
    targets = [_liver_lesion(rng, "T1", 52.0)]
    if rng.random() < 0.60:
        targets.append(_liver_lesion(rng, "T2", 30.0))
    non_targets: list[NonTarget] = []
    if rng.random() < 0.45:
        non_targets.append(NonTarget("", "liver", True))
    if enrollment["pvtt"]:
        non_targets.append(NonTarget("", "portal vein", True))
    if enrollment["extrahepatic_spread"]:
        site = rng.choices(("lung", "lymph node", "bone"), weights=(0.5, 0.35, 0.15))[0]
        if site == "lung":
            for _ in range(rng.choice((1, 1, 2))):
                size = mm(rng.uniform(10.0, 28.0))
                targets.append(Lesion(f"T{len(targets) + 1}", "lung", False, False, size, size))
        elif site == "lymph node":
            size = mm(rng.uniform(15.0, 28.0))
            targets.append(Lesion(f"T{len(targets) + 1}", "lymph node", True, False, size, size))
        else:
            non_targets.append(NonTarget("", "bone", False))
        if rng.random() < 0.3:
            non_targets.append(NonTarget("", "adrenal gland" if site != "bone" else "lung", False))
    named = [NonTarget(f"NT{i + 1}", nt.organ, nt.intrahepatic) for i, nt in enumerate(non_targets)]
    return targets, named
