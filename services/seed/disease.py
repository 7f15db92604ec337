"""The disease model: the named parameters behind the target figures, and each participant's
latent course (response class, tumour kinetics, times to progression, death and withdrawal).

The model aims at published results of TACE combined with a PD-(L)1 inhibitor and an anti-VEGF
agent (docs/validation.md, section 3). tests/integration/test_seed.py holds the synthetic trial
within ranges around these figures for 100 participants and two seeds, under both criteria:

- Ju S, Zhou C, Hu J, et al. *BMC Cancer* 2022;22:335 (TACE + camrelizumab + apatinib, 80
  patients): ORR (mRECIST) 58.8 %, DCR 81.2 %, median PFS 15.7 months, median OS 22.1 months.
- Duan X, Li H, Kuang D, et al. *Hepatology International* 2023;17:915-926 (TACE +
  camrelizumab + apatinib, propensity-matched, 449 patients): ORR 49.9 %, DCR 88.4 %, median
  PFS 10.8 months, median OS 24.5 months.
- Jin ZC, Chen JJ, Zhu XL, et al. (CHANCE2201) *eClinicalMedicine* 2024;72:102622 (advanced
  HCC, TACE + PD-(L)1 inhibitor + anti-VEGF antibody or TKI, target trial emulation): median
  OS 22.6 months, median PFS 9.9 months.
- Sangro B, Kudo M, Erinjeri JP, et al. (EMERALD-1) *Lancet* 2025;405:216-232 (TACE +
  durvalumab + bevacizumab, embolisation-eligible disease): median PFS 15.0 months (RECIST 1.1,
  blinded central review), ORR 43.6 %.
- Kudo M, Ren Z, Guo Y, et al. (LEAP-012) *Lancet* 2025;405:203-215 (TACE + lenvatinib +
  pembrolizumab, non-metastatic disease): median PFS 14.6 months (RECIST 1.1, blinded central
  review), ORR 47 %, OS at 24 months 75 % (median not reached).
- Xu J, Shen J, Gu S, et al. (RESCUE) *Clin Cancer Res* 2021;27:1003-1011 (camrelizumab +
  apatinib without TACE, first line): ORR (RECIST 1.1) 34.3 %, a floor for RECIST 1.1 with TACE.

Expected synthetic figures (large trials): ORR about 53 % by mRECIST and 39 % by RECIST 1.1,
DCR about 87 %, median PFS 11-12 months under either criterion, median OS about 20 months.

How the course shows on scans is services/seed/kinetics.py (the tumour) and
services/seed/scans.py (the reads).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from domain.protocol import MRECIST, RECIST_11

RESPONSE_CLASSES = {"progressive": 0.10, "stable": 0.33, "partial": 0.44, "complete": 0.13}
"""Latent best response of intrahepatic viable tumour (mRECIST-like) after TACE + systemic."""
VIABLE_NADIR = {"progressive": (1.0, 1.0), "stable": (0.76, 1.08), "partial": (0.08, 0.62),
                "complete": (0.0, 0.0)}
"""Range of the viable (mRECIST) sum at nadir relative to baseline, per class."""
WHOLE_SHRINK_SHARE = (0.35, 0.75)
"""Whole-lesion shrinkage as a share of the viable shrinkage: necrotic, lipiodol-laden tumour
keeps its size, so RECIST 1.1 responds less than mRECIST (whole = 1 - k * (1 - viable))."""
VIABLE_TAU_DAYS = (18.0, 40.0)
"""Viable tumour decays towards its nadir with this time constant (TACE kills it fast)."""
WHOLE_TAU_FACTOR = (1.5, 2.5)
"""Whole lesions shrink this many times more slowly than viable tumour."""
PROGRESSION_MEDIAN_DAYS = {"progressive": 0.0, "stable": 300.0, "partial": 560.0,
                           "complete": 850.0}
"""Median time from treatment start to progression (lognormal), per class."""
PROGRESSION_SIGMA = 0.55
POST_PROGRESSION_MEDIAN_DAYS = 330.0
POST_PROGRESSION_SIGMA = 0.75
EARLY_DEATH_SHARE = 0.02
"""Deaths before the first scan (hepatic decompensation): these participants are NE."""
DEATH_WITHOUT_PROGRESSION_SHARE = 0.04
WITHDRAWAL_SHARE = 0.04
SURVIVAL_HAZARD = {"pvtt": 1.25, "child_pugh_b7": 1.4, "ecog_1_plus": 1.1, "afp_400_plus": 1.15}
"""Times to progression and death are divided by these factors when the feature is present."""

PROGRESSION_MODES = {
    "new intrahepatic lesion": 0.26, "new extrahepatic lesion": 0.08, "target growth": 0.14,
    "non-target progression": 0.08,
    "viable regrowth": 0.32, "small lung nodules": 0.08, "hypovascular liver nodule": 0.04,
}
"""How disease progresses. The first four are seen on the same scan under both criteria."""
LEADING_CRITERION = {"viable regrowth": MRECIST, "small lung nodules": RECIST_11,
                     "hypovascular liver nodule": RECIST_11}
"""Modes seen under one criterion first. Viable regrowth: arterially enhancing tumour regrows
inside or at the rim of a necrotic, lipiodol-laden lesion whose whole diameter has not grown
yet (mRECIST PD; RECIST 1.1 PD once the whole lesion grows). Small lung nodules: new lung
metastases under 10 mm count for RECIST 1.1 but not for mRECIST (10 mm minimum). Hypovascular
liver nodule: a new nodule without the typical arterial enhancement counts for RECIST 1.1 only.
The other criterion's PD follows PROGRESSION_LAG_SCANS scans later, if the participant is still
being imaged."""
REGROWTH_WEIGHT_BY_CLASS = {"progressive": 0.3, "stable": 0.6, "partial": 1.4, "complete": 1.6}
"""Viable regrowth inside a lesion needs a lesion TACE has made necrotic: its weight in
PROGRESSION_MODES is multiplied by this, per response class."""
PROGRESSION_LAG_SCANS = {1: 0.6, 2: 0.4}
EQUIVOCAL_PRECURSOR_SHARE = 0.25
"""A new lesion first seen as equivocal one scan earlier: PD is back-dated to that scan."""

DEATH_CAUSES_AFTER_PROGRESSION = (
    ("disease progression", 0.82), ("hepatic failure", 0.10),
    ("upper gastrointestinal haemorrhage", 0.04), ("pneumonia", 0.04),
)
DEATH_CAUSES_WITHOUT_PROGRESSION = (
    ("hepatic failure", 0.55), ("upper gastrointestinal haemorrhage", 0.30), ("pneumonia", 0.15),
)
HAEMORRHAGE = "upper gastrointestinal haemorrhage"


@dataclass(frozen=True)
class DiseaseCourse:
    """A participant's latent course, in days after treatment start (the first TACE)."""

    response_class: str
    viable_nadir: float
    whole_shrink_share: float
    viable_tau_days: float
    whole_tau_days: float
    progression_day: int | None
    """First progression under either criterion."""
    progression_mode: str
    progression_lag_scans: int
    """Scans between the leading criterion's PD and the other's (modes in LEADING_CRITERION)."""
    death_day: int | None
    death_cause: str
    withdrawal_day: int | None


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pick_pair(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]


def _hazard(enrollment: dict[str, Any]) -> float:
    factor = 1.0
    if enrollment["pvtt"]:
        factor *= SURVIVAL_HAZARD["pvtt"]
    if enrollment["child_pugh"] == "B7":
        factor *= SURVIVAL_HAZARD["child_pugh_b7"]
    if enrollment["ecog"] >= 1:
        factor *= SURVIVAL_HAZARD["ecog_1_plus"]
    if enrollment["afp_ng_ml"] >= 400:
        factor *= SURVIVAL_HAZARD["afp_400_plus"]
    return factor


def disease_course(rng: random.Random, enrollment: dict[str, Any], has_non_targets: bool
                   ) -> DiseaseCourse:
    """Draw the latent response class, its kinetics, and the times to progression and death."""
    response_class = _pick(rng, RESPONSE_CLASSES)
    low, high = VIABLE_NADIR[response_class]
    viable_tau = rng.uniform(*VIABLE_TAU_DAYS)
    hazard = _hazard(enrollment)
    if response_class == "progressive":
        progression: float = 0.0
    else:
        median = PROGRESSION_MEDIAN_DAYS[response_class]
        progression = rng.lognormvariate(math.log(median), PROGRESSION_SIGMA) / hazard
    death = progression + rng.lognormvariate(math.log(POST_PROGRESSION_MEDIAN_DAYS),
                                             POST_PROGRESSION_SIGMA) / hazard
    death_cause = _pick_pair(rng, DEATH_CAUSES_AFTER_PROGRESSION)
    draw = rng.random()
    if draw < EARLY_DEATH_SHARE:
        death, death_cause = rng.uniform(14, 38), "hepatic failure"
    elif draw < EARLY_DEATH_SHARE + DEATH_WITHOUT_PROGRESSION_SHARE and progression > 60:
        death = rng.uniform(45, progression)
        death_cause = _pick_pair(rng, DEATH_CAUSES_WITHOUT_PROGRESSION)
    withdrawal = None
    if rng.random() < WITHDRAWAL_SHARE:
        withdrawal = rng.randint(40, 300)
        if withdrawal >= min(progression, death):
            withdrawal = None
    modes = dict(PROGRESSION_MODES)
    modes["viable regrowth"] *= REGROWTH_WEIGHT_BY_CLASS[response_class]
    if not has_non_targets:
        modes.pop("non-target progression")
    return DiseaseCourse(
        response_class=response_class,
        viable_nadir=rng.uniform(low, high),
        whole_shrink_share=rng.uniform(*WHOLE_SHRINK_SHARE),
        viable_tau_days=viable_tau,
        whole_tau_days=viable_tau * rng.uniform(*WHOLE_TAU_FACTOR),
        progression_day=round(progression),
        progression_mode=_pick(rng, modes),
        progression_lag_scans=rng.choices(list(PROGRESSION_LAG_SCANS),
                                          weights=list(PROGRESSION_LAG_SCANS.values()))[0],
        death_day=max(1, round(death)),
        death_cause=death_cause,
        withdrawal_day=withdrawal,
    )
