"""A deterministic synthetic trial, recorded through the application layer (`trial-ledger seed`).

`plan_trial` is pure: the same number of participants and seed give the same events, byte for
byte in `data`. `seed_trial` records that plan with `TrialLedger.record_participant_event`, so
every rule is enforced and every event is hash-chained; a rule violation while seeding is a bug
in this generator, never something to skip.

The clinical model (`DiseaseCourse`, `_TumourKinetics`, `PROGRESSION_MODES`) reads every scan
twice, as HCC after TACE is read: RECIST 1.1 measures the whole lesion, which shrinks slowly
because necrotic, lipiodol-laden tumour keeps its size; mRECIST measures the viable (arterially
enhancing) tumour, which TACE kills within weeks. So mRECIST shows more and earlier responses
(and the only complete responses), and the two criteria see progression on different scans for
about a third of the participants who progress: viable tumour regrowing inside a necrotic
lesion is mRECIST PD scans before the whole lesion grows 20 %; new lung nodules under 10 mm or
a new liver nodule without arterial enhancement are RECIST 1.1 PD before mRECIST counts
anything. Both reads of every scan pass the baseline and follow-up checks of docs/rules.md.

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
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from domain.events import CATALOGUE
from domain.participant import NewEntry, Participant
from domain.protocol import (
    APATINIB,
    APATINIB_START_DOSE_MG,
    CAMRELIZUMAB,
    CAMRELIZUMAB_CYCLE_DAYS,
    CAMRELIZUMAB_DOSE_MG,
    IMAGING_INTERVAL_DAYS,
    IMAGING_WINDOW_DAYS,
    MRECIST,
    RCCEP_TERM,
    RECIST_11,
    TACE,
)
from services.application import Actor, Submission, TrialLedger

# -- the trial's calendar, sites and demo accounts ---------------------------------------

TRIAL_START = date(2024, 1, 8)
"""First possible enrollment (a Monday)."""
ENROLLMENT_DAYS = 365
"""Enrollment is spread over twelve months from TRIAL_START."""
DATA_CUTOFF = date(2026, 6, 30)
"""Nothing is dated after this clinical cutoff: 18-30 months of follow-up, all in the past."""
SITES = ("S01", "S02", "S03")
SITE_WEIGHTS = (0.40, 0.35, 0.25)

DEMO_PASSWORD = "synthetic-demo-2026"
"""Shared password of the generated accounts. Demo stores only: printed by the CLI."""
DATA_MANAGER = "data.manager"
SEED_ACTOR = Actor("system:seed", "system")


def coordinator_username(site_id: str) -> str:
    return f"{site_id.lower()}.coordinator"


def investigator_username(site_id: str) -> str:
    return f"{site_id.lower()}.investigator"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    sites: tuple[str, ...]
    full_name: str

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.full_name, self.sites)


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    *(account for site in SITES for account in (
        DemoAccount(coordinator_username(site), "site_coordinator", (site,),
                    f"Demo Coordinator {site}"),
        DemoAccount(investigator_username(site), "investigator", (site,),
                    f"Demo Investigator {site}"),
    )),
    DemoAccount("study.monitor", "monitor", SITES, "Demo Monitor"),
    DemoAccount(DATA_MANAGER, "data_manager", (), "Demo Data Manager"),
    DemoAccount("qa.auditor", "auditor", (), "Demo Auditor"),
    DemoAccount("account.admin", "admin", (), "Demo Administrator"),
)
"""One account for every role: a coordinator and an investigator per site, a monitor of every
site, a data manager, an auditor and an administrator (who only manages accounts). The seed
records its entries as the site coordinators, and voids as the data manager."""

# -- the disease model: named parameters behind the target figures ---------------------------

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
MISSED_SCAN_SHARE = 0.05
NOT_ASSESSED_TARGET_SHARE = 0.015
NOT_ASSESSED_NON_TARGET_SHARE = 0.02
OFF_PROTOCOL_THERAPY_SHARE = 0.55
CORRECTION_SHARE = 0.15
VOID_SHARE = 0.05
CAMRELIZUMAB_MAX_DAYS = 730
"""Camrelizumab is given for at most two years."""
APATINIB_REDUCED_DOSE_MG = 125.0
SURVIVAL_HAZARD = {"pvtt": 1.25, "child_pugh_b7": 1.4, "ecog_1_plus": 1.1, "afp_400_plus": 1.15}
"""Times to progression and death are divided by these factors when the feature is present."""

MAX_STABLE_GROWTH = 1.10
"""Before progression a target grows at most 10 %; a read at >= 1.15 x nadir is held back."""
STABLE_GUARD = 1.15

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


@dataclass(frozen=True)
class AdverseEventKind:
    """A treatment-emergent AE: CTCAE v5 term, attribution, incidence and grade >= 3 share."""

    term: str
    related_to: tuple[str, ...]
    incidence: float
    severe_share: float
    onset_days: tuple[int, int]
    """Onset window, in days after the first dose of the (first) attributed drug."""
    resolves_share: float
    immune_related: bool = False
    laboratory: bool = False


SYSTEMIC_AES = (
    AdverseEventKind("Hypertension", (APATINIB,), 0.58, 0.40, (5, 60), 0.45),
    AdverseEventKind("Palmar-plantar erythrodysesthesia syndrome", (APATINIB,), 0.40, 0.12,
                     (10, 60), 0.75),
    AdverseEventKind("Proteinuria", (APATINIB,), 0.35, 0.08, (20, 120), 0.65),
    AdverseEventKind("Aspartate aminotransferase increased", (CAMRELIZUMAB, APATINIB), 0.40,
                     0.12, (10, 150), 0.85, laboratory=True),
    AdverseEventKind("Alanine aminotransferase increased", (CAMRELIZUMAB, APATINIB), 0.35,
                     0.10, (10, 150), 0.85, laboratory=True),
    AdverseEventKind("Blood bilirubin increased", (APATINIB,), 0.28, 0.08, (20, 180), 0.70,
                     laboratory=True),
    AdverseEventKind("Platelet count decreased", (APATINIB,), 0.32, 0.10, (14, 150), 0.75,
                     laboratory=True),
    AdverseEventKind(RCCEP_TERM, (CAMRELIZUMAB,), 0.30, 0.02, (14, 90), 0.70,
                     immune_related=True),
    AdverseEventKind("Hypothyroidism", (CAMRELIZUMAB,), 0.15, 0.0, (60, 200), 0.15,
                     immune_related=True),
    AdverseEventKind("Diarrhea", (APATINIB,), 0.20, 0.05, (7, 90), 0.90),
    AdverseEventKind("Fatigue", (CAMRELIZUMAB, APATINIB), 0.30, 0.04, (7, 90), 0.80),
    AdverseEventKind("Pneumonitis", (CAMRELIZUMAB,), 0.02, 0.60, (60, 240), 0.80,
                     immune_related=True),
)
POST_EMBOLISATION_AES = (
    AdverseEventKind("Fever", (TACE,), 0.50, 0.02, (0, 1), 1.0),
    AdverseEventKind("Abdominal pain", (TACE,), 0.45, 0.06, (0, 1), 1.0),
    AdverseEventKind("Nausea", (TACE,), 0.30, 0.02, (0, 1), 1.0),
    AdverseEventKind("Vomiting", (TACE,), 0.15, 0.03, (0, 2), 1.0),
)
DISCONTINUING_AES = frozenset({"Pneumonitis"})
"""Grade >= 3 immune-related pneumonitis ends camrelizumab for good."""

SUBSEQUENT_THERAPIES = (
    ("lenvatinib", "systemic"), ("regorafenib", "systemic"), ("sorafenib", "systemic"),
    ("donafenib", "systemic"), ("HAIC (FOLFOX)", "locoregional"),
    ("stereotactic body radiotherapy", "radiotherapy"),
)
DEATH_CAUSES_AFTER_PROGRESSION = (
    ("disease progression", 0.82), ("hepatic failure", 0.10),
    ("upper gastrointestinal haemorrhage", 0.04), ("pneumonia", 0.04),
)
DEATH_CAUSES_WITHOUT_PROGRESSION = (
    ("hepatic failure", 0.55), ("upper gastrointestinal haemorrhage", 0.30), ("pneumonia", 0.15),
)
HAEMORRHAGE = "upper gastrointestinal haemorrhage"

TYPE_ORDER = {name: rank for rank, name in enumerate((
    "ParticipantEnrolled", "TumorAssessed", "TACEPerformed", "DoseAdministered",
    "AdverseEventReported", "AdverseEventUpdated", "DoseModified", "AdverseEventResolved",
    "AnticancerTherapyStarted", "FollowUpContact", "ParticipantWithdrew", "ParticipantDied",
))}
"""Same-day order: a scan before the treatment it leads to, an AE before the dose change that
names it, a discontinuation before the withdrawal."""

# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedEvent:
    """One event as it will be submitted; `entered_on` is passed as the ledger's `today`.

    For EntryCorrected / EntryVoided, `refers_to` is the `seq` of the corrected or voided
    event of the same participant; its event id is filled in when the plan is recorded."""

    participant_id: str
    seq: int
    type: str
    occurred_on: date
    data: dict[str, Any]
    reason: str | None
    entered_on: date
    actor: str
    refers_to: int | None = None


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


@dataclass(frozen=True)
class ParticipantPlan:
    participant_id: str
    site_id: str
    course: DiseaseCourse
    progressed_on: date | None
    """The first scan that showed progression under either criterion (a back-dated PD may make
    it earlier)."""
    died_on: date | None
    events: tuple[PlannedEvent, ...]

    def effective_events(self) -> list[PlannedEvent]:
        """Clinical events as the ledger will see them: corrections applied, voids dropped."""
        by_seq = {event.seq: event for event in self.events if event.refers_to is None}
        voided: set[int] = set()
        for event in self.events:
            if event.type == "EntryCorrected" and event.refers_to is not None:
                by_seq[event.refers_to] = replace(by_seq[event.refers_to],
                                                  data=event.data["data"],
                                                  occurred_on=event.occurred_on)
            elif event.type == "EntryVoided" and event.refers_to is not None:
                voided.add(event.refers_to)
        return [event for seq, event in sorted(by_seq.items()) if seq not in voided]


@dataclass(frozen=True)
class TrialPlan:
    participants_requested: int
    seed: int
    participants: tuple[ParticipantPlan, ...]

    def in_entry_order(self) -> list[PlannedEvent]:
        """All events in the order a busy EDC would receive them: by entry date, then site."""
        index = {plan.participant_id: i for i, plan in enumerate(self.participants)}
        events = [event for plan in self.participants for event in plan.events]
        return sorted(events, key=lambda e: (e.entered_on, index[e.participant_id], e.seq))


@dataclass(frozen=True)
class SeedSummary:
    """What `seed_trial` recorded."""

    seed: int
    participants: int
    events: int
    accounts_created: tuple[str, ...]
    deaths: int
    withdrawals: int
    progressions: int
    adverse_events: int
    corrections: int
    voids: int
    first_enrolled_on: date
    last_event_on: date
    data_cutoff: date = DATA_CUTOFF
    events_by_type: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [
            f"seeded {self.participants} participants (seed {self.seed}): {self.events} events",
            (f"first enrolled {self.first_enrolled_on}; last event {self.last_event_on}; "
             f"data cutoff {self.data_cutoff}"),
            (f"{self.progressions} progressed, {self.deaths} died, {self.withdrawals} withdrew; "
             f"{self.adverse_events} adverse events; {self.corrections} corrections, "
             f"{self.voids} voids"),
        ]


# -- small helpers ----------------------------------------------------------------------------


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pick_pair(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]


def _mm(value: float) -> float:
    """Diameters are read to 0.1 mm."""
    return round(value, 1)


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
    value = _mm(raw)
    return value, False, value


def _weekday(day: date) -> date:
    """Clinics enroll on working days: a weekend date moves to the Monday."""
    return day + _days((7 - day.weekday()) % 7) if day.weekday() >= 5 else day


# -- baseline: characteristics and tumour burden ----------------------------------------------


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


def _enrollment_data(rng: random.Random, site_id: str, enrolled_on: date) -> dict[str, Any]:
    """Baseline characteristics typical of TACE + camrelizumab + apatinib cohorts."""
    age = min(82, max(28, round(rng.gauss(56, 10))))
    pvtt = rng.random() < 0.40
    extrahepatic = rng.random() < 0.22
    ecog = rng.choices((0, 1, 2), weights=(0.60, 0.37, 0.03))[0]
    bclc = "C" if (pvtt or extrahepatic or ecog > 0) else "B"
    afp = min(400_000.0, round(math.exp(rng.gauss(math.log(180.0), 2.2)), 1))
    return {
        "site_id": site_id,
        "consented_on": (enrolled_on - _days(rng.randint(0, 10))).isoformat(),
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
    whole = _mm(min(140.0, max(12.0, rng.lognormvariate(math.log(median_mm), 0.45))))
    viable = _mm(whole * rng.uniform(0.70, 1.0))
    if viable < 10.0:
        viable = whole
    return Lesion(lesion_id, "liver", False, True, whole, viable)


def _tumour_burden(rng: random.Random, enrollment: dict[str, Any]
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
                size = _mm(rng.uniform(10.0, 28.0))
                targets.append(Lesion(f"T{len(targets) + 1}", "lung", False, False, size, size))
        elif site == "lymph node":
            size = _mm(rng.uniform(15.0, 28.0))
            targets.append(Lesion(f"T{len(targets) + 1}", "lymph node", True, False, size, size))
        else:
            non_targets.append(NonTarget("", "bone", False))
        if rng.random() < 0.3:
            non_targets.append(NonTarget("", "adrenal gland" if site != "bone" else "lung", False))
    named = [NonTarget(f"NT{i + 1}", nt.organ, nt.intrahepatic) for i, nt in enumerate(non_targets)]
    return targets, named


# -- the latent course --------------------------------------------------------------------------


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


def _disease_course(rng: random.Random, enrollment: dict[str, Any], has_non_targets: bool
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


# -- tumour kinetics and reads ----------------------------------------------------------------


@dataclass
class _LesionState:
    lesion: Lesion
    viable_nadir: float
    whole_nadir: float
    viable_mm: float
    whole_mm: float


@dataclass(frozen=True)
class _Measure:
    """One target at one read, both criteria: what is recorded and what it counts as."""

    lesion: Lesion
    viable: tuple[float | None, bool, float]
    whole: tuple[float | None, bool, float]
    assessed: bool = True


class _TumourKinetics:
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

    def measures(self) -> list[_Measure]:
        return [_Measure(s.lesion, _measured(s.viable_mm), _measured(s.whole_mm))
                for s in self.states]


def _approach(nadir: float, tau: float, day: int) -> float:
    return nadir + (1.0 - nadir) * math.exp(-day / tau)


def _sums(measures: list[_Measure]) -> tuple[float, float]:
    """(mRECIST viable sum, RECIST 1.1 whole sum), in counted mm."""
    return (sum(m.viable[2] for m in measures), sum(m.whole[2] for m in measures))


def _grown(measures: list[_Measure], nadir: tuple[float, float], rng: random.Random
           ) -> list[_Measure]:
    """Target growth: the largest liver target regrows until both sums are >= 1.25 x nadir
    and >= nadir + 6 mm (PD under both criteria, with margin)."""
    index = max(range(len(measures)), key=lambda i: (measures[i].lesion.intrahepatic,
                                                       measures[i].lesion.whole_mm))
    viable_sum, whole_sum = _sums(measures)
    factor = rng.uniform(1.25, 1.6)
    step = rng.uniform(6.0, 15.0)
    viable_goal = max(nadir[0] * factor, nadir[0] + step)
    whole_goal = max(nadir[1] * factor, nadir[1] + step)
    chosen = measures[index]
    viable = _mm_up(chosen.viable[2] + max(0.0, viable_goal - viable_sum))
    whole = max(viable, _mm_up(chosen.whole[2] + max(0.0, whole_goal - whole_sum)))
    grown = list(measures)
    grown[index] = _Measure(chosen.lesion, (viable, False, viable), (whole, False, whole))
    return grown


def _regrowth_target(measures: list[_Measure]) -> int:
    """The liver target where viable tumour regrows: the one with the most necrosis."""
    return max(range(len(measures)), key=lambda i: (measures[i].lesion.intrahepatic,
                                                      measures[i].whole[2] - measures[i].viable[2],
                                                      measures[i].lesion.whole_mm))


def _crosses_recist(whole_sum: float, nadir: float) -> bool:
    """RECIST 1.1 target PD, with a margin: >= 1.15 x nadir and >= nadir + 4 mm."""
    return whole_sum >= STABLE_GUARD * nadir and whole_sum - nadir >= 4.0


def _regrown_viable(measures: list[_Measure], nadir: tuple[float, float], rng: random.Random,
                    *, whole_may_cross: bool) -> list[_Measure] | None:
    """Viable (arterially enhancing) tumour regrows in one liver target until the viable sum is
    >= 1.25 x its nadir and >= nadir + 8 mm (mRECIST PD, with margin); the whole lesion, mostly
    necrotic, keeps its diameter unless the viable part outgrows it. None when that would also
    make RECIST 1.1 PD and `whole_may_cross` is False."""
    index = _regrowth_target(measures)
    chosen = measures[index]
    viable_sum, whole_sum = _sums(measures)
    goal = max(nadir[0] * rng.uniform(1.25, 1.6), nadir[0] + rng.uniform(8.0, 18.0))
    viable = _mm_up(chosen.viable[2] + max(0.0, goal - viable_sum))
    whole = max(viable, chosen.whole[2])
    if not whole_may_cross and _crosses_recist(whole_sum - chosen.whole[2] + whole, nadir[1]):
        return None
    regrown = list(measures)
    regrown[index] = _Measure(chosen.lesion, (viable, False, viable),
                              chosen.whole if whole == chosen.whole[2] else (whole, False, whole))
    return regrown


def _grown_whole(measures: list[_Measure], whole_nadir: float, rng: random.Random
                 ) -> list[_Measure]:
    """The whole lesion with regrown viable tumour now grows too, until the RECIST 1.1 sum is
    >= 1.25 x its nadir and >= nadir + 6 mm (PD, with margin)."""
    index = max(range(len(measures)), key=lambda i: (measures[i].lesion.intrahepatic,
                                                       measures[i].viable[2]))
    chosen = measures[index]
    _, whole_sum = _sums(measures)
    goal = max(whole_nadir * rng.uniform(1.25, 1.5), whole_nadir + rng.uniform(6.0, 14.0))
    whole = _mm_up(chosen.whole[2] + max(0.0, goal - whole_sum))
    viable = min(whole, _mm_up(max(chosen.viable[2], 5.0) * rng.uniform(1.0, 1.3)))
    grown = list(measures)
    grown[index] = _Measure(chosen.lesion, (viable, False, viable), (whole, False, whole))
    return grown


def _target_json(measure: _Measure, criterion: str) -> dict[str, Any]:
    diameter, too_small, _ = measure.viable if criterion == MRECIST else measure.whole
    if not measure.assessed:
        diameter, too_small = None, False
    return {"lesion_id": measure.lesion.lesion_id, "organ": measure.lesion.organ,
            "nodal": measure.lesion.nodal, "diameter_mm": diameter, "too_small": too_small}


def _baseline_measures(targets: list[Lesion]) -> list[_Measure]:
    return [_Measure(t, (t.viable_mm, False, t.viable_mm), (t.whole_mm, False, t.whole_mm))
            for t in targets]


@dataclass(frozen=True)
class _Scan:
    on: date
    measures: list[_Measure]
    non_target_status: dict[str, dict[str, str]]
    """criterion -> non-target id -> status."""
    new_lesions: list[dict[str, Any]]
    progression: bool


def _scan_data(scan: _Scan, *, baseline: bool, modality: str, reader: str) -> dict[str, Any]:
    reads = {}
    for criterion in (RECIST_11, MRECIST):
        reads[criterion] = {
            "targets": [_target_json(m, criterion) for m in scan.measures],
            "non_targets": [
                {"lesion_id": lesion_id, "organ": organ, "status": status}
                for lesion_id, (organ, status) in _with_organs(scan, criterion).items()
            ],
            "new_lesions": [dict(lesion) for lesion in scan.new_lesions],
        }
    return {"modality": modality, "baseline": baseline, "reader": reader, "reads": reads}


def _with_organs(scan: _Scan, criterion: str) -> dict[str, tuple[str, str]]:
    organs = scan.non_target_status["organs"]
    return {lesion_id: (organs[lesion_id], status)
            for lesion_id, status in scan.non_target_status[criterion].items()}


# -- one participant's timeline ---------------------------------------------------------------


@dataclass
class _Draft:
    """An event being planned; `anchor` is the date from which it can be entered."""

    type: str
    occurred_on: date
    data: dict[str, Any]
    reason: str | None = None
    anchor: date | None = None
    by_data_manager: bool = False
    refers_to: _Draft | None = None
    entry_lag: int = 0


@dataclass
class _AdverseEvent:
    kind: AdverseEventKind
    onset: date
    grade: int
    related_to: list[str]
    serious: bool
    worsens_on: date | None = None
    worse_grade: int | None = None
    improves_on: date | None = None
    resolves_on: date | None = None
    outcome: str = "recovered"
    ae_id: str = ""

    @property
    def severe_on(self) -> date | None:
        """When it reached grade >= 3 (at onset, or when it worsened)."""
        if self.grade >= 3:
            return self.onset
        if self.worse_grade is not None and self.worse_grade >= 3:
            return self.worsens_on
        return None


class _ParticipantBuilder:
    """Plans one participant's events from enrollment to death, withdrawal or the cutoff."""

    def __init__(self, rng: random.Random, participant_id: str, site_id: str,
                 enrolled_on: date) -> None:
        self.rng = rng
        self.participant_id = participant_id
        self.site_id = site_id
        self.enrolled_on = enrolled_on
        self.drafts: list[_Draft] = []
        self.enrollment = _enrollment_data(rng, site_id, enrolled_on)
        self.targets, self.non_targets = _tumour_burden(rng, self.enrollment)
        self.course = _disease_course(rng, self.enrollment, bool(self.non_targets))
        self.modality = "MRI" if rng.random() < 0.4 else "CT"
        self.reader = f"Site {site_id} radiologist {rng.choice('ABC')}"
        self.baseline_on = enrolled_on + _days(rng.randint(0, 3))
        self.start = self.baseline_on + _days(rng.randint(3, 10))
        """Treatment start: the first TACE."""
        course = self.course
        self.died_on = (self.start + _days(course.death_day)
                        if course.death_day is not None else None)
        if self.died_on is not None and self.died_on > DATA_CUTOFF:
            self.died_on = None
        self.withdrew_on = (self.start + _days(course.withdrawal_day)
                            if course.withdrawal_day is not None else None)
        if self.withdrew_on is not None and self.withdrew_on > DATA_CUTOFF:
            self.withdrew_on = None
        self.last_on = min(d for d in (self.died_on, DATA_CUTOFF) if d is not None)
        """Nothing is dated after death or the cutoff."""
        self.first_progressed_on: date | None = None
        """The first scan with PD under either criterion."""
        self.progressed_on: date | None = None
        """The scan with PD under both criteria: study treatment ends after it."""
        self.scans: list[_Scan] = []
        self.tace_dates: list[date] = []
        self.adverse_events: list[_AdverseEvent] = []
        self.follow_up_allowed = True

    def add(self, type_name: str, occurred_on: date, data: dict[str, Any], **kw: Any) -> _Draft:
        assert self.enrolled_on <= occurred_on <= self.last_on, (type_name, occurred_on)
        draft = _Draft(type_name, occurred_on, data, **kw)
        self.drafts.append(draft)
        return draft

    # -- the story, in order -----------------------------------------------------------------

    def build(self) -> list[_Draft]:
        self.add("ParticipantEnrolled", self.enrolled_on, self.enrollment)
        self._plan_scans()
        self._emit_scans()
        self._plan_treatment_end()
        self._plan_tace()
        self._plan_adverse_events()
        self._plan_dose_holds()
        self._emit_camrelizumab()
        self._emit_apatinib()
        self._emit_adverse_events()
        self._emit_end_of_treatment()
        self._emit_follow_up()
        return self.drafts

    # -- imaging -----------------------------------------------------------------------------

    def _scan_until(self) -> date:
        """Protocol imaging stops at death, withdrawal or the cutoff."""
        ends = [d - _days(1) for d in (self.died_on, self.withdrew_on) if d is not None]
        return min([DATA_CUTOFF, *ends])

    def _plan_scans(self) -> None:
        """Baseline before treatment, then every 6 weeks +- 7 days (~5 % missed) until PD under
        both criteria. When one criterion shows PD first (LEADING_CRITERION), imaging goes on
        and the other criterion's PD follows course.progression_lag_scans scans later."""
        rng, course = self.rng, self.course
        baseline = _Scan(self.baseline_on, _baseline_measures(self.targets),
                         self._non_target_status(all_absent=False), [], False)
        self.scans.append(baseline)
        kinetics = _TumourKinetics(rng, course, self.targets)
        nadir = _sums(baseline.measures)
        leading: str | None = None
        scans_since = 0
        for visit in range(1, 100):
            day = visit * IMAGING_INTERVAL_DAYS + rng.randint(-IMAGING_WINDOW_DAYS,
                                                               IMAGING_WINDOW_DAYS)
            on = self.start + _days(day)
            if on > self._scan_until():
                return
            if rng.random() < MISSED_SCAN_SHARE:
                continue
            kinetics.advance(day)
            measures = kinetics.measures()
            if leading is not None:
                scans_since += 1
                if scans_since >= course.progression_lag_scans:
                    self.scans.append(self._lagging_progression_scan(on, leading, nadir))
                    self.progressed_on = on
                    return
                scan = self._between_progressions_scan(on, leading, measures, nadir)
            elif course.progression_day is not None and day >= course.progression_day:
                scan, leading = self._progression_scan(on, measures, nadir)
                self.first_progressed_on = on
                if leading is None:
                    self.scans.append(scan)
                    self.progressed_on = on
                    return
            else:
                sums = _sums(measures)
                if sums[0] >= STABLE_GUARD * nadir[0] or sums[1] >= STABLE_GUARD * nadir[1]:
                    measures = [replace(m, assessed=True) for m in self.scans[-1].measures]
                scan = self._ordinary_scan(on, measures)
            self.scans.append(scan)
            if all(m.assessed for m in scan.measures):
                sums = _sums(scan.measures)
                nadir = (min(nadir[0], sums[0]), min(nadir[1], sums[1]))

    def _non_target_status(self, *, all_absent: bool, progression: str | None = None
                           ) -> dict[str, dict[str, str]]:
        """RECIST 1.1 sees treated liver disease as present; mRECIST as absent once no
        viable tumour remains (all_absent); a non-target can be the one that progresses."""
        status: dict[str, dict[str, str]] = {
            "organs": {nt.lesion_id: nt.organ for nt in self.non_targets},
            RECIST_11: {}, MRECIST: {},
        }
        for nt in self.non_targets:
            for criterion in (RECIST_11, MRECIST):
                value = "present"
                if criterion == MRECIST and all_absent and nt.intrahepatic:
                    value = "absent"
                if nt.lesion_id == progression:
                    value = "progression"
                status[criterion][nt.lesion_id] = value
        return status

    def _ordinary_scan(self, on: date, measures: list[_Measure]) -> _Scan:
        rng = self.rng
        liver_clear = all(m.viable[2] == 0 for m in measures if m.lesion.intrahepatic)
        all_clear = liver_clear and all(m.viable[2] == 0 for m in measures)
        status = self._non_target_status(all_absent=all_clear)
        if self.non_targets and rng.random() < NOT_ASSESSED_NON_TARGET_SHARE:
            lesion_id = rng.choice(self.non_targets).lesion_id
            for criterion in (RECIST_11, MRECIST):
                status[criterion][lesion_id] = "not_assessed"
        if rng.random() < NOT_ASSESSED_TARGET_SHARE:
            index = rng.randrange(len(measures))
            measures = list(measures)
            measures[index] = replace(measures[index], assessed=False)
        return _Scan(on, measures, status, [], False)

    def _progression_scan(self, on: date, measures: list[_Measure], nadir: tuple[float, float]
                          ) -> tuple[_Scan, str | None]:
        """The first scan that shows progression, by the course's mode, and the criterion that
        alone shows it (None: both criteria)."""
        rng, mode = self.rng, self.course.progression_mode
        leading = LEADING_CRITERION.get(mode)
        if leading == MRECIST:
            regrown = _regrown_viable(measures, nadir, rng, whole_may_cross=False)
            if regrown is None:
                mode, leading = "target growth", None
            else:
                status = self._non_target_status(all_absent=False)
                return _Scan(on, regrown, status, [], True), leading
        if leading == RECIST_11:
            measures = self._held_below_progression(measures, nadir)
            status = self._non_target_status(all_absent=False)
            return _Scan(on, measures, status, [self._recist_only_lesion(mode)], True), leading
        new_lesions: list[dict[str, Any]] = []
        progressing = None
        if mode == "target growth":
            measures = _grown(measures, nadir, rng)
        elif mode == "non-target progression":
            progressing = next((nt.lesion_id for nt in self.non_targets if nt.organ == "portal vein"),
                               self.non_targets[0].lesion_id)
        else:
            intrahepatic = mode == "new intrahepatic lesion"
            organ = "liver" if intrahepatic else rng.choice(("lung", "lung", "bone", "peritoneum"))
            size = _mm(rng.uniform(11.0, 30.0) if intrahepatic else rng.uniform(10.0, 22.0))
            new_lesions.append({"lesion_id": "N1", "organ": organ, "diameter_mm": size,
                                "unequivocal": True, "typical_hcc": True})
            previous = self.scans[-1]
            if (len(self.scans) > 1 and not previous.new_lesions
                    and rng.random() < EQUIVOCAL_PRECURSOR_SHARE):
                seen = {"lesion_id": "N1", "organ": organ, "diameter_mm": _mm(rng.uniform(5, 9)),
                        "unequivocal": False, "typical_hcc": False}
                self.scans[-1] = replace(previous, new_lesions=[seen])
        status = self._non_target_status(all_absent=False, progression=progressing)
        return _Scan(on, measures, status, new_lesions, True), None

    def _recist_only_lesion(self, mode: str) -> dict[str, Any]:
        """A new lesion RECIST 1.1 counts and mRECIST does not: lung nodules under 10 mm, or a
        liver nodule without the typical arterial enhancement."""
        if mode == "small lung nodules":
            size = _mm(self.rng.uniform(5.0, 8.5))
            return {"lesion_id": "N1", "organ": "lung", "diameter_mm": size,
                    "unequivocal": True, "typical_hcc": True}
        size = _mm(self.rng.uniform(10.0, 18.0))
        return {"lesion_id": "N1", "organ": "liver", "diameter_mm": size,
                "unequivocal": True, "typical_hcc": False}

    def _held_below_progression(self, measures: list[_Measure], nadir: tuple[float, float]
                                ) -> list[_Measure]:
        """Targets as the kinetics give them, or as last read if they would near PD."""
        sums = _sums(measures)
        if sums[0] >= STABLE_GUARD * nadir[0] or sums[1] >= STABLE_GUARD * nadir[1]:
            return [replace(m, assessed=True) for m in self.scans[-1].measures]
        return measures

    def _between_progressions_scan(self, on: date, leading: str, measures: list[_Measure],
                                   nadir: tuple[float, float]) -> _Scan:
        """A scan after the leading criterion's PD that the other criterion still reads as not
        progressing: regrown viable tumour persists inside an unchanged whole lesion, or the
        RECIST-only new lesion persists (a lung nodule stays under 10 mm)."""
        previous = self.scans[-1]
        status = self._non_target_status(all_absent=False)
        if leading == MRECIST:
            return _Scan(on, [replace(m, assessed=True) for m in previous.measures], status, [],
                         True)
        lesion = dict(previous.new_lesions[0])
        grown = lesion["diameter_mm"] * self.rng.uniform(1.0, 1.12)
        lesion["diameter_mm"] = _mm(min(9.5, grown) if lesion["organ"] == "lung" else grown)
        return _Scan(on, self._held_below_progression(measures, nadir), status, [lesion], True)

    def _lagging_progression_scan(self, on: date, leading: str, nadir: tuple[float, float]
                                  ) -> _Scan:
        """The scan where the other criterion shows PD too: the whole lesion around regrown
        viable tumour has grown (RECIST 1.1), or viable tumour regrows or a typical new liver
        lesion appears (mRECIST) while the RECIST-only lesion is still there."""
        rng = self.rng
        previous = self.scans[-1]
        status = self._non_target_status(all_absent=False)
        measures = [replace(m, assessed=True) for m in previous.measures]
        if leading == MRECIST:
            return _Scan(on, _grown_whole(measures, nadir[1], rng), status, [], True)
        carried = dict(previous.new_lesions[0])
        if carried["organ"] == "lung":
            carried["diameter_mm"] = _mm(min(9.5, carried["diameter_mm"] * rng.uniform(1.0, 1.1)))
        if rng.random() < 0.5:
            regrown = _regrown_viable(measures, nadir, rng, whole_may_cross=True)
            assert regrown is not None
            return _Scan(on, regrown, status, [carried], True)
        typical = {"lesion_id": "N2", "organ": "liver", "diameter_mm": _mm(rng.uniform(11.0, 25.0)),
                   "unequivocal": True, "typical_hcc": True}
        return _Scan(on, measures, status, [carried, typical], True)

    def _emit_scans(self) -> None:
        for index, scan in enumerate(self.scans):
            data = _scan_data(scan, baseline=index == 0, modality=self.modality,
                              reader=self.reader)
            self.add("TumorAssessed", scan.on, data, entry_lag=self.rng.randint(1, 10))

    def _viable_at(self, scan: _Scan) -> float:
        return _sums(scan.measures)[0]

    # -- treatment ---------------------------------------------------------------------------

    def _plan_treatment_end(self) -> None:
        """Study treatment ends at progression under both criteria (decided within a week;
        progression seen under one criterion only is treated through), withdrawal, death or
        the cutoff; `treat_until` is the last day a dose or TACE may be given."""
        rng = self.rng
        self.discontinued_on: date | None = None
        self.discontinue_reason = ""
        ends: list[tuple[date, str]] = []
        if self.progressed_on is not None:
            decided = self.progressed_on + _days(rng.randint(1, 7))
            ends.append((decided, "disease progression"))
        if self.withdrew_on is not None:
            ends.append((self.withdrew_on, "consent withdrawn"))
        if ends:
            self.discontinued_on, self.discontinue_reason = min(ends)
        if self.died_on is not None and (self.discontinued_on is None
                                         or self.died_on <= self.discontinued_on):
            self.discontinued_on, self.discontinue_reason = None, ""
            self.treat_until = self.died_on - _days(rng.randint(2, 7))
            if self.progressed_on is not None:
                self.treat_until = min(self.treat_until, self.progressed_on - _days(1))
        elif self.discontinued_on is not None:
            self.treat_until = self.discontinued_on - _days(1)
            if self.progressed_on is not None and self.progressed_on <= self.treat_until:
                self.treat_until = self.progressed_on - _days(1)
        else:
            self.treat_until = DATA_CUTOFF
        if self.discontinued_on is not None and self.discontinued_on > self.last_on:
            self.discontinued_on = None
        self.apatinib_until = (self.discontinued_on - _days(1) if self.discontinued_on
                               else self.treat_until)
        self.apatinib_until = min(self.apatinib_until, self.treat_until + _days(7), self.last_on)
        if self.withdrew_on is not None:
            self.apatinib_until = min(self.apatinib_until, self.withdrew_on)

    def _plan_tace(self) -> None:
        """TACE on demand: 1-4 sessions (median 2), repeated after a scan with viable tumour."""
        sessions = self.rng.choices((1, 2, 3, 4), weights=(0.30, 0.35, 0.22, 0.13))[0]
        self.tace_dates = [self.start]
        follow_ups = [s for s in self.scans[1:] if not s.progression]
        for scan in follow_ups[: sessions - 1]:
            if self._viable_at(scan) == 0:
                break
            on = scan.on + _days(self.rng.randint(5, 14))
            if on > self.treat_until - _days(3):
                break
            self.tace_dates.append(on)
        for on in self.tace_dates:
            conventional = self.rng.random() < 0.7
            data: dict[str, Any] = (
                {"technique": "cTACE", "agent": "epirubicin",
                 "agent_dose_mg": float(self.rng.choice((30, 40, 50, 60))),
                 "lipiodol_ml": float(self.rng.randint(5, 20)), "embolic_agent": "gelatin sponge"}
                if conventional else
                {"technique": "DEB-TACE", "agent": "epirubicin",
                 "agent_dose_mg": float(self.rng.choice((60, 80))), "lipiodol_ml": None,
                 "embolic_agent": "CalliSpheres 100-300 um"}
            )
            self.add("TACEPerformed", on, data, entry_lag=self.rng.randint(0, 5))
        self.camrelizumab_from = self.start + _days(self.rng.randint(3, 7))
        self.apatinib_from = self.start + _days(self.rng.randint(3, 7))

    # -- adverse events and the dose changes they cause --------------------------------------

    def _ae_until(self) -> date:
        """AEs are followed to 30 days after the last dose, death, withdrawal or the cutoff."""
        limit = min(self.treat_until + _days(30), self.last_on)
        return min(limit, self.withdrew_on) if self.withdrew_on else limit

    def _exposure_from(self, kind: AdverseEventKind) -> date:
        if APATINIB in kind.related_to:
            return self.apatinib_from
        return self.camrelizumab_from

    def _plan_adverse_events(self) -> None:
        rng = self.rng
        episodes: list[_AdverseEvent] = []
        until = self._ae_until()
        for kind in SYSTEMIC_AES:
            if rng.random() >= kind.incidence:
                continue
            onset = self._exposure_from(kind) + _days(rng.randint(*kind.onset_days))
            if onset > min(until, self.treat_until):
                continue
            episodes.append(self._episode(kind, onset))
        for on in self.tace_dates:
            for kind in POST_EMBOLISATION_AES:
                if rng.random() < kind.incidence:
                    onset = on + _days(rng.randint(*kind.onset_days))
                    if onset <= until:
                        episodes.append(self._episode(kind, onset))
        if (self.died_on is not None and self.withdrew_on is None
                and self.course.death_cause == HAEMORRHAGE):
            fatal = AdverseEventKind("Upper gastrointestinal hemorrhage", (APATINIB,), 1.0, 1.0,
                                     (0, 0), 1.0)
            onset = max(self.start, self.died_on - _days(rng.randint(0, 3)))
            episodes.append(_AdverseEvent(fatal, onset, 5, [APATINIB] if rng.random() < 0.5
                                          else [], True, resolves_on=self.died_on,
                                          outcome="fatal"))
        episodes.sort(key=lambda e: (e.onset, e.kind.term))
        for number, episode in enumerate(episodes, start=1):
            episode.ae_id = f"AE-{number:02d}"
        self.adverse_events = episodes

    def _episode(self, kind: AdverseEventKind, onset: date) -> _AdverseEvent:
        """Grade path: mild AEs may worsen one grade; severe ones start at 3 or worsen from 2,
        may improve, and most resolve."""
        rng = self.rng
        related = list(kind.related_to)
        if kind.laboratory and any(0 <= (onset - t).days <= 10 for t in self.tace_dates):
            related = [TACE]
        elif len(related) > 1 and rng.random() < 0.5:
            related = [rng.choice(related)]
        severe = rng.random() < kind.severe_share
        episode = _AdverseEvent(kind, onset, 1, related, False)
        if severe:
            grade = 4 if kind.laboratory and rng.random() < 0.15 else 3
            if rng.random() < 0.5:
                episode.grade = grade
            else:
                episode.grade = 2
                episode.worsens_on = onset + _days(rng.randint(4, 14))
                episode.worse_grade = grade
            episode.serious = grade == 4 or rng.random() < 0.25
            peak = episode.worsens_on or onset
            if rng.random() < 0.6:
                episode.improves_on = peak + _days(rng.randint(7, 21))
            if rng.random() < kind.resolves_share:
                episode.resolves_on = peak + _days(rng.randint(22, 70))
        else:
            episode.grade = 1 if rng.random() < 0.6 else 2
            if episode.grade == 1 and rng.random() < 0.25:
                episode.worsens_on = onset + _days(rng.randint(7, 28))
                episode.worse_grade = 2
            if rng.random() < kind.resolves_share:
                days = (2, 7) if TACE in kind.related_to else (7, 90)
                episode.resolves_on = (episode.worsens_on or onset) + _days(rng.randint(*days))
        return episode

    def _plan_dose_holds(self) -> None:
        """Grade >= 3 apatinib toxicity: hold, then resume (mostly reduced to 125 mg) or stop;
        grade >= 3 immune toxicity: hold camrelizumab (pneumonitis stops it); apatinib is also
        held from 3 days before to 3-7 days after each repeat TACE."""
        rng = self.rng
        self.apatinib_holds: list[tuple[date, date, str, str | None, bool]] = []
        """(first day off, day resumed, reason, AE id, resumed reduced)."""
        self.camrelizumab_holds: list[tuple[date, date, str, str]] = []
        self.apatinib_stopped: tuple[date, str, str | None] | None = None
        self.camrelizumab_stopped: tuple[date, str, str | None] | None = None
        reduced = False
        camrelizumab_ends = self.camrelizumab_from + _days(CAMRELIZUMAB_MAX_DAYS)
        severe = [e for e in self.adverse_events if e.severe_on is not None]
        for episode in sorted(severe, key=lambda e: (e.severe_on, e.ae_id)):
            severe_on = episode.severe_on
            if severe_on is None or severe_on > self.treat_until or episode.grade == 5:
                continue
            reason = f"grade {max(episode.grade, episode.worse_grade or 0)} " \
                     f"{episode.kind.term.split(': ')[-1].lower()}"
            if (APATINIB in episode.related_to and self.apatinib_stopped is None
                    and self.apatinib_from < severe_on <= self.apatinib_until):
                if reduced or rng.random() < 0.08:
                    self.apatinib_stopped = (severe_on, reason, episode.ae_id)
                    self.apatinib_until = severe_on - _days(1)
                else:
                    back = severe_on + _days(rng.randint(7, 21))
                    if not self._overlaps(self.apatinib_holds, severe_on, back):
                        reduce = rng.random() < 0.7
                        self.apatinib_holds.append((severe_on, back, reason, episode.ae_id,
                                                    reduce))
                        reduced = reduced or reduce
            if (episode.kind.immune_related and self.camrelizumab_stopped is None
                    and self.camrelizumab_from < severe_on <= self.treat_until
                    and severe_on < camrelizumab_ends):
                if episode.kind.term in DISCONTINUING_AES:
                    self.camrelizumab_stopped = (severe_on, reason, episode.ae_id)
                else:
                    back = severe_on + _days(rng.randint(21, 42))
                    self.camrelizumab_holds.append((severe_on, back, reason, episode.ae_id))
        for on in self.tace_dates[1:]:
            off, back = on - _days(3), on + _days(rng.randint(3, 7))
            if (self.apatinib_from < off and back <= self.apatinib_until
                    and not self._overlaps(self.apatinib_holds, off, back)):
                self.apatinib_holds.append((off, back, "held around TACE", None, False))
        self.apatinib_holds.sort()

    @staticmethod
    def _overlaps(holds: list[Any], first: date, last: date) -> bool:
        return any(first <= hold[1] and hold[0] <= last for hold in holds)

    def _emit_camrelizumab(self) -> None:
        """200 mg IV every 21 days (window -1/+3 days), numbered cycles, at most two years."""
        rng = self.rng
        stop = self.treat_until
        completed_on = self.camrelizumab_from + _days(CAMRELIZUMAB_MAX_DAYS)
        if self.camrelizumab_stopped is not None:
            stop = min(stop, self.camrelizumab_stopped[0] - _days(1))
        on, cycle = self.camrelizumab_from, 1
        for off, back, reason, ae_id in self.camrelizumab_holds:
            if off <= self.last_on:
                self.add("DoseModified", off, {"drug": CAMRELIZUMAB, "action": "interrupted",
                                               "reason": reason, "adverse_event_id": ae_id})
            if back <= min(stop, self.last_on):
                self.add("DoseModified", back, {"drug": CAMRELIZUMAB, "action": "resumed",
                                                "reason": "toxicity resolved to grade 1",
                                                "adverse_event_id": ae_id})
        while on <= stop:
            if on >= completed_on:
                self.camrelizumab_stopped = (on, "completed 24 months of camrelizumab", None)
                break
            hold = next((h for h in self.camrelizumab_holds if h[0] <= on < h[1]), None)
            if hold is not None:
                on = hold[1]
                continue
            if any(-1 <= (on - t).days <= 2 for t in self.tace_dates):
                on = max(t for t in self.tace_dates if -1 <= (on - t).days <= 2) + _days(3)
                continue
            self.add("DoseAdministered", on, {"drug": CAMRELIZUMAB,
                                              "dose_mg": float(CAMRELIZUMAB_DOSE_MG),
                                              "route": "IV", "cycle": cycle},
                     entry_lag=rng.randint(0, 4))
            cycle += 1
            on += _days(CAMRELIZUMAB_CYCLE_DAYS + rng.choice((0, 0, 0, 1, 2, 3, -1)))
        stopped = self.camrelizumab_stopped
        if stopped is not None and stopped[0] <= self.last_on:
            self.add("DoseModified", stopped[0], {"drug": CAMRELIZUMAB, "action": "discontinued",
                                                  "reason": stopped[1],
                                                  "adverse_event_id": stopped[2]})

    def _emit_apatinib(self) -> None:
        """Daily-dosing periods between holds, each entered once it ends (or at the cutoff)."""
        dose = float(APATINIB_START_DOSE_MG)
        period_from = self.apatinib_from
        for off, back, reason, ae_id, reduce in self.apatinib_holds:
            if off > self.apatinib_until:
                break
            self._apatinib_period(period_from, off - _days(1), dose)
            self.add("DoseModified", off, {"drug": APATINIB, "action": "interrupted",
                                           "reason": reason, "adverse_event_id": ae_id})
            if back > self.apatinib_until:
                period_from = back
                break
            if reduce:
                dose = APATINIB_REDUCED_DOSE_MG
                self.add("DoseModified", back, {"drug": APATINIB, "action": "reduced",
                                                "new_dose_mg": dose, "reason": reason,
                                                "adverse_event_id": ae_id})
            else:
                self.add("DoseModified", back, {"drug": APATINIB, "action": "resumed",
                                                "reason": "toxicity or TACE recovery complete",
                                                "adverse_event_id": ae_id})
            period_from = back
        self._apatinib_period(period_from, self.apatinib_until, dose)
        stopped = self.apatinib_stopped
        if stopped is not None and stopped[0] <= self.last_on:
            self.add("DoseModified", stopped[0], {"drug": APATINIB, "action": "discontinued",
                                                  "reason": stopped[1],
                                                  "adverse_event_id": stopped[2]})

    def _apatinib_period(self, first: date, last: date, dose: float) -> None:
        last = min(last, self.apatinib_until)
        if last < first:
            return
        self.add("DoseAdministered", first, {"drug": APATINIB, "dose_mg": dose, "route": "oral",
                                             "end_on": last.isoformat()},
                 anchor=last, entry_lag=self.rng.randint(1, 7))

    def _emit_adverse_events(self) -> None:
        until = self._ae_until()
        for episode in self.adverse_events:
            self.add("AdverseEventReported", episode.onset, {
                "ae_id": episode.ae_id, "term": episode.kind.term, "grade": episode.grade,
                "serious": episode.serious and episode.grade >= 3,
                "related_to": episode.related_to,
                "immune_related": episode.kind.immune_related,
            }, entry_lag=self.rng.randint(0, 7))
            if episode.worsens_on is not None and episode.worsens_on <= until:
                data: dict[str, Any] = {"ae_id": episode.ae_id, "grade": episode.worse_grade}
                if (episode.worse_grade or 0) >= 3 and episode.serious:
                    data["serious"] = True
                self.add("AdverseEventUpdated", episode.worsens_on, data)
            if episode.improves_on is not None and episode.improves_on <= until:
                self.add("AdverseEventUpdated", episode.improves_on,
                         {"ae_id": episode.ae_id, "grade": 1})
            if episode.resolves_on is not None and episode.resolves_on <= until:
                self.add("AdverseEventResolved", episode.resolves_on,
                         {"ae_id": episode.ae_id, "outcome": episode.outcome})

    # -- after treatment ---------------------------------------------------------------------

    def _emit_end_of_treatment(self) -> None:
        """Discontinuation at progression or withdrawal; off-protocol therapy; withdrawal."""
        rng = self.rng
        on = self.discontinued_on
        if on is not None:
            for drug, stopped in ((CAMRELIZUMAB, self.camrelizumab_stopped),
                                  (APATINIB, self.apatinib_stopped)):
                if stopped is None or stopped[0] > on:
                    self.add("DoseModified", on, {"drug": drug, "action": "discontinued",
                                                  "reason": self.discontinue_reason})
        if self.withdrew_on is not None and self.withdrew_on <= self.last_on:
            self.follow_up_allowed = rng.random() < 0.5
            self.add("ParticipantWithdrew", self.withdrew_on,
                     {"reason": rng.choice(("withdrew consent", "moved away from the study site",
                                            "wishes no further study visits")),
                      "follow_up_allowed": self.follow_up_allowed})
        elif self.progressed_on is not None and on is not None:
            therapy_on = on + _days(rng.randint(10, 45))
            limit = self.died_on - _days(7) if self.died_on else DATA_CUTOFF
            if rng.random() < OFF_PROTOCOL_THERAPY_SHARE and therapy_on <= limit:
                therapy, category = rng.choice(SUBSEQUENT_THERAPIES)
                self.add("AnticancerTherapyStarted", therapy_on,
                         {"therapy": therapy, "category": category})

    def _emit_follow_up(self) -> None:
        """Survival contacts every 2-3 months off treatment; death; a last contact at cutoff."""
        rng = self.rng
        if self.withdrew_on is not None and not self.follow_up_allowed:
            return
        off_treatment = self.discontinued_on or self.withdrew_on
        last_seen = max(d.occurred_on for d in self.drafts)
        if off_treatment is not None:
            on = off_treatment + _days(rng.randint(56, 92))
            while on <= self.last_on and (self.died_on is None or on < self.died_on):
                self.add("FollowUpContact", on, {"alive": True}, entry_lag=rng.randint(0, 10))
                last_seen = on
                on += _days(rng.randint(56, 92))
        if self.died_on is not None:
            self.add("ParticipantDied", self.died_on, {"cause": self.course.death_cause},
                     entry_lag=rng.randint(2, 21))
        elif (DATA_CUTOFF - last_seen).days > 30:
            self.add("FollowUpContact", DATA_CUTOFF - _days(rng.randint(0, 14)), {"alive": True})


# -- data-management incidents: corrections and voids ------------------------------------------


def _add_correction(rng: random.Random, drafts: list[_Draft]) -> None:
    """A transcription error entered first, then corrected with a reason (the data manager's
    query answered by the site): a dose, a follow-up diameter, an AE grade, or the birth year."""
    kinds = ["dose", "diameter", "ae_grade", "birth_year"]
    rng.shuffle(kinds)
    for kind in kinds:
        if _try_correction(rng, drafts, kind):
            return


def _try_correction(rng: random.Random, drafts: list[_Draft], kind: str) -> bool:
    if kind == "dose":
        candidates = [d for d in drafts if d.type == "DoseAdministered"
                      and d.data["drug"] == CAMRELIZUMAB]
        if not candidates:
            return False
        target = rng.choice(candidates)
        wrong = dict(target.data, dose_mg=20.0)
        reason = "transcription error: camrelizumab dose is 200 mg, entered as 20 mg"
    elif kind == "diameter":
        candidates = [d for d in drafts if d.type == "TumorAssessed" and not d.data["baseline"]
                      and any(t["diameter_mm"] for t in d.data["reads"][RECIST_11]["targets"])]
        if not candidates:
            return False
        target = rng.choice(candidates)
        reads = {c: {**r, "targets": [dict(t) for t in r["targets"]]}
                 for c, r in target.data["reads"].items()}
        lesion = next(t for t in reads[RECIST_11]["targets"] if t["diameter_mm"])
        right = lesion["diameter_mm"]
        lesion["diameter_mm"] = _mm(right + 10.0)
        wrong = dict(target.data, reads=reads)
        reason = (f"transcription error: {lesion['lesion_id']} longest diameter is {right} mm "
                  f"per the radiology report, entered as {lesion['diameter_mm']} mm")
    elif kind == "ae_grade":
        candidates = [d for d in drafts if d.type == "AdverseEventReported"
                      and d.data["grade"] == 2]
        if not candidates:
            return False
        target = rng.choice(candidates)
        wrong = dict(target.data, grade=3)
        reason = "transcription error: grade 2 per source notes, entered as grade 3"
    else:
        target = drafts[0]
        year = target.data["birth_year"]
        wrong = dict(target.data, birth_year=year + 10)
        reason = f"transcription error: born {year} per ID document, entered as {year + 10}"
    right_data = target.data
    target.data = wrong
    drafts.append(_Draft("EntryCorrected", target.occurred_on,
                         {"corrects": None, "data": right_data}, reason=reason,
                         refers_to=target, entry_lag=rng.randint(14, 60)))
    return True


def _add_void(rng: random.Random, drafts: list[_Draft], ae_count: int) -> None:
    """An adverse event entered in this participant's casebook by mistake, then voided."""
    treated = [d for d in drafts if d.type == "DoseAdministered"]
    if not treated:
        return
    on = rng.choice(treated).occurred_on
    entry = _Draft("AdverseEventReported", on, {
        "ae_id": f"AE-{ae_count + 1:02d}", "term": "Diarrhea", "grade": 1, "serious": False,
        "related_to": [APATINIB], "immune_related": False,
    }, entry_lag=rng.randint(0, 5))
    drafts.append(entry)
    drafts.append(_Draft("EntryVoided", on, {"voids": None},
                         reason="entered in the wrong participant's casebook",
                         by_data_manager=True, refers_to=entry, entry_lag=rng.randint(7, 30)))


def _finalise(participant_id: str, site_id: str, drafts: list[_Draft]
              ) -> tuple[PlannedEvent, ...]:
    """Order the drafts as they would be entered and give each its entry date (`today`)."""
    clinical = [d for d in drafts if d.refers_to is None]
    admin = [d for d in drafts if d.refers_to is not None]
    order = sorted(range(len(clinical)), key=lambda i: (
        clinical[i].anchor or clinical[i].occurred_on, TYPE_ORDER[clinical[i].type], i))
    site_user = coordinator_username(site_id)
    planned: list[PlannedEvent] = []
    seq_of: dict[int, int] = {}
    entered: dict[int, date] = {}
    latest = date.min
    for seq, i in enumerate(order, start=1):
        draft = clinical[i]
        latest = max(latest, (draft.anchor or draft.occurred_on) + _days(draft.entry_lag))
        seq_of[id(draft)] = seq
        entered[id(draft)] = latest
        planned.append(_planned(participant_id, seq, draft, latest, site_user, None))
    for seq, draft in enumerate(admin, start=len(clinical) + 1):
        assert draft.refers_to is not None
        target = draft.refers_to
        on = entered[id(target)] + _days(draft.entry_lag)
        user = DATA_MANAGER if draft.by_data_manager else site_user
        if draft.type == "EntryCorrected":
            schema = CATALOGUE[target.type].payload
            draft.data = {**draft.data,
                          "data": schema.model_validate(draft.data["data"]).model_dump(mode="json")}
        planned.append(_planned(participant_id, seq, draft, on, user, seq_of[id(target)]))
    return tuple(planned)


def _planned(participant_id: str, seq: int, draft: _Draft, entered_on: date, actor: str,
             refers_to: int | None) -> PlannedEvent:
    payload = CATALOGUE[draft.type].payload
    data = draft.data
    if refers_to is None:
        data = payload.model_validate(data).model_dump(mode="json")
    return PlannedEvent(participant_id, seq, draft.type, draft.occurred_on, data, draft.reason,
                        entered_on, actor, refers_to)


# -- the trial --------------------------------------------------------------------------------


def plan_trial(*, participants: int, seed: int) -> TrialPlan:
    """The whole synthetic trial as planned events; pure and deterministic in (participants,
    seed). Each participant draws from their own random stream."""
    if participants < 1:
        raise ValueError("participants must be at least 1")
    trial_rng = random.Random(f"trial-ledger seed {seed}")
    offsets = sorted(trial_rng.randrange(ENROLLMENT_DAYS) for _ in range(participants))
    sites = [trial_rng.choices(SITES, weights=SITE_WEIGHTS)[0] for _ in range(participants)]
    corrected = set(trial_rng.sample(range(participants),
                                     max(1, round(participants * CORRECTION_SHARE))))
    voided = set(trial_rng.sample(range(participants), max(1, round(participants * VOID_SHARE))))
    numbers: Counter[str] = Counter()
    plans = []
    for index in range(participants):
        site = sites[index]
        numbers[site] += 1
        participant_id = f"HCC-{site[1:]}-{numbers[site]:03d}"
        rng = random.Random(f"trial-ledger seed {seed} participant {index}")
        enrolled_on = _weekday(TRIAL_START + _days(offsets[index]))
        builder = _ParticipantBuilder(rng, participant_id, site, enrolled_on)
        drafts = builder.build()
        if index in corrected:
            _add_correction(rng, drafts)
        if index in voided:
            _add_void(rng, drafts, len(builder.adverse_events))
        plans.append(ParticipantPlan(participant_id, site, builder.course,
                                     builder.first_progressed_on,
                                     builder.died_on, _finalise(participant_id, site, drafts)))
    return TrialPlan(participants, seed, tuple(plans))


# -- recording through the application layer ---------------------------------------------------


def ensure_demo_accounts(ledger: TrialLedger) -> list[str]:
    """Create the demo accounts (DEMO_ACCOUNTS) where missing; returns the new names."""
    from services.accounts import add_user

    created = []
    for account in DEMO_ACCOUNTS:
        if ledger.account(account.username) is None:
            add_user(ledger, username=account.username, role=account.role,
                     sites=list(account.sites), full_name=account.full_name,
                     password=DEMO_PASSWORD, by=SEED_ACTOR)
            created.append(account.username)
    return created


class StoreNotEmpty(Exception):
    """Seeding needs a store without participants: the plan's ids would collide."""


def seed_trial(ledger: TrialLedger, *, participants: int, seed: int,
               progress: Callable[[int, int], None] | None = None) -> SeedSummary:
    """Record a synthetic trial through `record_participant_event`, in entry order.

    `progress(recorded, total)` is called once before the first event and after each one."""
    existing = ledger.participant_ids()
    if existing:
        raise StoreNotEmpty(
            f"the store already has {len(existing)} participants; seed into an empty store "
            "(a new TRIAL_LEDGER_DATABASE_URL)"
        )
    plan = plan_trial(participants=participants, seed=seed)
    created = ensure_demo_accounts(ledger)
    actors = {account.username: account.actor for account in DEMO_ACCOUNTS}
    event_ids: dict[tuple[str, int], str] = {}
    ordered = plan.in_entry_order()
    if progress is not None:
        progress(0, len(ordered))
    for done, event in enumerate(ordered, start=1):
        recorded, _ = ledger.record_participant_event(
            event.participant_id, submission_for(event, event_ids), actors[event.actor],
            request_id=f"seed-{seed}-{event.participant_id}-{event.seq}", today=event.entered_on,
        )
        event_ids[(event.participant_id, event.seq)] = recorded.event_id
        if progress is not None:
            progress(done, len(ordered))
    return _summary(plan, created)


def submission_for(event: PlannedEvent, event_ids: dict[tuple[str, int], str]) -> Submission:
    """The application-layer request for a planned event, with references resolved."""
    data = event.data
    if event.refers_to is not None:
        target = event_ids[(event.participant_id, event.refers_to)]
        key = "corrects" if event.type == "EntryCorrected" else "voids"
        data = {**data, key: target}
    payload = CATALOGUE[event.type].payload.model_validate(data)
    return Submission(event.type, event.occurred_on, payload, event.reason)


def _summary(plan: TrialPlan, created: list[str]) -> SeedSummary:
    events = [e for p in plan.participants for e in p.events]
    by_type = Counter(e.type for e in events)
    effective = [e for p in plan.participants for e in p.effective_events()]
    return SeedSummary(
        seed=plan.seed,
        participants=len(plan.participants),
        events=len(events),
        accounts_created=tuple(created),
        deaths=by_type["ParticipantDied"],
        withdrawals=by_type["ParticipantWithdrew"],
        progressions=sum(1 for p in plan.participants if p.progressed_on is not None),
        adverse_events=sum(1 for e in effective if e.type == "AdverseEventReported"),
        corrections=by_type["EntryCorrected"],
        voids=by_type["EntryVoided"],
        first_enrolled_on=min(e.occurred_on for e in events if e.type == "ParticipantEnrolled"),
        last_event_on=max(e.occurred_on for e in events),
        events_by_type=dict(sorted(by_type.items())),
    )


def fold_plan(plan: TrialPlan) -> list[Participant]:
    """The plan folded into aggregates in memory, without a store and without re-checking the
    rules (the store path checks them); for benchmarks and statistics tests."""
    participants: dict[str, Participant] = {}
    event_ids: dict[tuple[str, int], str] = {}
    for event in plan.in_entry_order():
        submission = submission_for(event, event_ids)
        entry = NewEntry(str(uuid.uuid4()), submission.type, submission.occurred_on,
                         submission.data, submission.reason, event.actor, "site_coordinator")
        event_ids[(event.participant_id, event.seq)] = entry.event_id
        if event.type == "ParticipantEnrolled":
            participants[event.participant_id] = Participant.enroll(
                event.participant_id, entry, today=event.entered_on)
        else:
            participants[event.participant_id].append(entry)
    return list(participants.values())
