"""A deterministic synthetic trial, recorded through the application layer (`trial-ledger seed`).

`plan_trial` is pure: the same number of participants and seed give the same events, byte for
byte in `data`. `seed_trial` records that plan with `TrialLedger.record_participant_event`, so
every rule is enforced and every event is hash-chained; a rule violation while seeding is a bug
in this generator, never something to skip.

The clinical model reads every scan twice, as HCC after TACE is read: RECIST 1.1 measures the
whole lesion, mRECIST the viable (arterially enhancing) tumour, so mRECIST shows more and
earlier responses and the two criteria see progression on different scans for about a third of
the participants who progress. It aims at published results of TACE combined with a PD-(L)1
inhibitor and an anti-VEGF agent (docs/validation.md, section 3; the studies are cited in
`disease`).

The slices, in the order a participant's plan is drawn:

- `trial_calendar`: enrollment window, sites, the clinical cutoff.
- `disease`: the named parameters behind the target figures, the published anchors, and each
  participant's latent course.
- `baseline`: characteristics at enrollment and the baseline tumour burden.
- `kinetics`: how targets shrink and how a progression looks in the measures.
- `scans`: the imaging schedule and both reads of every scan.
- `treatment`: TACE, camrelizumab and apatinib, their holds and the end of study treatment.
- `ae_kinds` and `adverse_events`: the AE kinds (CTCAE terms, attribution, incidence), and
  each participant's episodes.
- `timeline` and `participant`: one participant's dates and drafts, and the fixed order in
  which the slices above draw from the participant's random stream.
- `data_management`: corrections and voids.
- `plan`: the trial plan and the entry order.
- `demo_accounts` and `recording`: the accounts the plan is recorded as, and recording it
  through the application layer (or folding it in memory).
"""

from services.seed.ae_kinds import POST_EMBOLISATION_AES, SYSTEMIC_AES, AdverseEventKind
from services.seed.demo_accounts import (
    DATA_MANAGER,
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    SEED_ACTOR,
    DemoAccount,
    coordinator_username,
    ensure_demo_accounts,
    investigator_username,
)
from services.seed.disease import DiseaseCourse
from services.seed.plan import ParticipantPlan, PlannedEvent, TrialPlan, plan_trial
from services.seed.recording import (
    SeedSummary,
    StoreNotEmpty,
    fold_plan,
    seed_trial,
    submission_for,
)
from services.seed.trial_calendar import (
    DATA_CUTOFF,
    ENROLLMENT_DAYS,
    SITE_WEIGHTS,
    SITES,
    TRIAL_START,
)

__all__ = [
    "DATA_CUTOFF",
    "DATA_MANAGER",
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "ENROLLMENT_DAYS",
    "POST_EMBOLISATION_AES",
    "SEED_ACTOR",
    "SITES",
    "SITE_WEIGHTS",
    "SYSTEMIC_AES",
    "TRIAL_START",
    "AdverseEventKind",
    "DemoAccount",
    "DiseaseCourse",
    "ParticipantPlan",
    "PlannedEvent",
    "SeedSummary",
    "StoreNotEmpty",
    "TrialPlan",
    "coordinator_username",
    "ensure_demo_accounts",
    "fold_plan",
    "investigator_username",
    "plan_trial",
    "seed_trial",
    "submission_for",
]
