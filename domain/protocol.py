"""This trial's protocol constants: every choice docs/rules.md leaves open is named here.

TACE combined with camrelizumab (anti-PD-1) and apatinib (VEGFR-2 TKI) in advanced
hepatocellular carcinoma; single-arm phase II; primary endpoint ORR by RECIST 1.1 and mRECIST.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

TRIAL_TITLE: Final = "TACE + camrelizumab + apatinib in advanced hepatocellular carcinoma"

# Study drugs and schedule
CAMRELIZUMAB: Final = "camrelizumab"
APATINIB: Final = "apatinib"
TACE: Final = "TACE"
STUDY_DRUGS: Final = (CAMRELIZUMAB, APATINIB)
CAMRELIZUMAB_DOSE_MG: Final = 200
CAMRELIZUMAB_CYCLE_DAYS: Final = 21
APATINIB_START_DOSE_MG: Final = 250
STUDY_START: Final = date(2019, 1, 1)
"""No consent, and so no clinical date of this trial, can precede the study's start."""
DOSE_RANGE_MG: Final = {CAMRELIZUMAB: (1, 400), APATINIB: (1, 1000)}
"""Plausible doses as entered (inclusive): camrelizumab up to twice the 200 mg flat dose;
apatinib up to 1000 mg a day, above any dose studied in HCC."""
SCREENING_WINDOW_DAYS: Final = 28
"""RECIST 1.1 §3.2: baseline imaging within 4 weeks before treatment; a baseline scan may be
dated up to this many days before enrolment (screening), nothing else may precede it."""
CORRECTION_DATE_TOLERANCE_DAYS: Final = 1
"""A correction dated today or the day before (a site behind UTC) is read as made today."""
IMAGING_INTERVAL_DAYS: Final = 42
IMAGING_WINDOW_DAYS: Final = 7
CAMRELIZUMAB_WINDOW_DAYS: Final = 3
"""An infusion counts for its 21-day cycle within 3 days either side of the cycle's day."""
FOLLOW_UP_INTERVAL_DAYS: Final = 84
"""After progression or the end of treatment, a survival contact every 12 weeks: often
enough to date deaths for OS (expected median well over a year) without visits a participant
no longer treated must travel for; contacts may be by telephone."""
FOLLOW_UP_WINDOW_DAYS: Final = 14
"""A survival contact counts within two weeks either side of its day."""

# Response criteria
Criterion = Literal["RECIST 1.1", "mRECIST"]
RECIST_11: Final = "RECIST 1.1"
MRECIST: Final = "mRECIST"
CRITERIA: Final[tuple[Criterion, ...]] = ("RECIST 1.1", "mRECIST")

MAX_TARGETS: Final = 5
"""RECIST 1.1 §3.3.2: at most five target lesions in total."""
MAX_TARGETS_PER_ORGAN: Final = 2
"""RECIST 1.1 §3.3.2: at most two target lesions per organ; all lymph nodes are one organ."""
MIN_TARGET_DIAMETER_MM: Final = 10
"""RECIST 1.1 §3.1.1 / mRECIST: a non-nodal target needs a longest (viable) diameter >= 10 mm."""
MIN_NODAL_TARGET_SHORT_AXIS_MM: Final = 15
"""RECIST 1.1 §3.1.1: a nodal target needs a short axis >= 15 mm."""
NODAL_NORMAL_SHORT_AXIS_MM: Final = 10
"""RECIST 1.1 §4.3.1: a node under 10 mm short axis is normal (CR allowed with a non-zero sum)."""
TOO_SMALL_TO_MEASURE_MM: Final = 5
"""RECIST 1.1 Appendix: a lesion present but too small to measure counts as 5 mm."""
PD_RELATIVE_INCREASE: Final = (6, 5)
"""PD needs sum >= 1.2 x nadir; kept as the exact fraction 6/5."""
PR_RELATIVE_SUM: Final = (7, 10)
"""PR needs sum <= 0.7 x baseline sum; kept as the exact fraction 7/10 so -30.0% is PR."""
PD_ABSOLUTE_INCREASE_MM: Final = 5
"""RECIST 1.1 §4.3.1: PD also needs an absolute increase of at least 5 mm (mRECIST: none)."""
MRECIST_NEW_LESION_MIN_MM: Final = 10
"""mRECIST: a new intrahepatic lesion counts only if typical of HCC and >= 10 mm."""
SD_MIN_DAYS: Final = 42
"""SD counts for best overall response only at a read >= 42 elapsed days after treatment start."""
CONFIRM_DAYS: Final = 28
"""A CR/PR is confirmed by a later CR/PR >= 28 elapsed days after it."""
MAX_NE_BETWEEN_CONFIRMATION: Final = 1
"""At most one NE read may stand between a response and its confirmation."""

# Endpoints
DAYS_PER_MONTH: Final = 30.4375
MISSED_ASSESSMENTS: Final = 2
"""FDA 2018: PD or death after this many missed scheduled reads is censored at the last
adequate read; the gap in days is derived from the imaging schedule
(domain.schedule.MISSED_GAP_DAYS), so it follows the schedule if the schedule changes."""
LANDMARK_MONTHS: Final = (6, 12)
CONFIDENCE_LEVEL: Final = 0.95
KM_CI_TRANSFORM_DEFAULT: Final = "log-log"
"""Pointwise survival CIs use the log-log transform by default, as SAS PROC LIFETEST."""
MEDIAN_TIE_TOLERANCE: Final = 1e-9

# Safety
SAFETY_SEVERE_GRADE: Final = 3
RCCEP_TERM: Final = "Skin and subcutaneous tissue disorders - Other, specify: RCCEP"

# Eligibility
MIN_AGE_YEARS: Final = 18
"""Adults only: enrollment year minus birth year must be at least 18."""

# Source-data verification (risk-based monitoring plan, domain/sdv_plan.py)
SDV_FULL_TYPES: Final = ("ParticipantEnrolled", "TumorAssessed", "ParticipantDied",
                         "ParticipantWithdrew")
"""Verified against source at 100%: eligibility and consent (the enrolment), every tumour
assessment (the primary endpoint ORR and PFS are read from them), death (OS, PFS) and
withdrawal of consent (censoring)."""
SDV_SERIOUS_AE_GRADE: Final = SAFETY_SEVERE_GRADE
"""Every event of an adverse event that is serious, or of CTCAE grade 3 or more at any point,
is verified at 100%: the safety analysis and expedited reporting rest on them."""
SDV_SAMPLING_PERCENT: Final = 20
"""Every other entry (doses, TACE sessions, mild AEs, follow-up contacts, other therapy) is
verified in a 20% sample: a site's transcription error rate shows in a sample, and a site
with findings gets more by the monitor's choice (a monitor may verify any entry)."""

# Edit checks (soft: they open a query for a person to look at, never refuse an entry)
MAX_PLAUSIBLE_TARGET_DIAMETER_MM: Final = 200
"""A single target lesion above 20 cm is rare enough in this population that the value is
queried against the source (a slipped digit, cm entered as mm); the hard limit stays 500 mm."""
TARGET_JUMP_RATIO: Final = 2
TARGET_JUMP_MIN_MM: Final = 20
"""A lesion whose diameter doubles or halves against the previous scan of the same lesion (by
at least 20 mm) between two 6-weekly reads is more often a mislabelled lesion or a typo than
biology; it is queried, never refused (TACE can shrink a lesion fast)."""
AFP_PLAUSIBLE_MAX_NG_ML: Final = 1_000_000
"""Serum AFP above 1,000,000 ng/mL is queried against the laboratory report (units, digits)."""
SEVERE_AE_SERIOUS_GRADE: Final = 4
"""CTCAE grade 4 (life-threatening) and 5 (death) adverse events meet the ICH E2A seriousness
criteria: one recorded as not serious is queried."""
PARTICIPANT_ID_PATTERN: Final = r"^HCC-(\d{2})-\d{3}$"
"""Participant ids are HCC-<site number>-<sequence>; site S<nn> enrols HCC-<nn>-...."""
