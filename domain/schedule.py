"""The protocol's visit schedule, as data: what is expected of each participant, and when.

Each activity is a repeating visit (a scan, an infusion, a dosing record, a survival contact)
counted from an anchor date, with a window around each visit's day, a grace period after the
window, and the events that end it. Monitoring (domain.visits) reads these records to say which
visits are done, due, overdue or missed; the PFS rule for two missed assessments reads its gap
from the imaging activity here, so both change together if the schedule does.

Nothing here reads a participant: the dates come from domain.visits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from domain.protocol import (
    APATINIB,
    CAMRELIZUMAB,
    CAMRELIZUMAB_CYCLE_DAYS,
    CAMRELIZUMAB_WINDOW_DAYS,
    FOLLOW_UP_INTERVAL_DAYS,
    FOLLOW_UP_WINDOW_DAYS,
    IMAGING_INTERVAL_DAYS,
    IMAGING_WINDOW_DAYS,
    MISSED_ASSESSMENTS,
)

Anchor = Literal["treatment_start", "first_dose", "end_of_treatment"]
"""What visit 0 is counted from: the first dose or TACE; the first dose of the activity's drug
(else the treatment start); the first of progression, the end of study treatment (every study
drug discontinued, a withdrawal with follow-up allowed, or off-protocol anticancer therapy)."""
Stop = Literal["progression", "withdrawal", "death", "discontinuation", "consent_withdrawn"]
"""What ends an activity: the first PD read under either criterion, a withdrawal, a death, the
activity's drug discontinued, a withdrawal that allows no follow-up. No visit whose day comes
after the stop is expected."""


@dataclass(frozen=True)
class Activity:
    """One repeating visit of the schedule.

    Visit k (from `first_visit`) falls on anchor + k x `interval_days`; its window opens
    `window_before` days before that day and closes `window_after` days after it; a visit not
    done is overdue for `grace_days` after the window closes, then missed. An entry of
    `entry_type` (for `drug`, when named) dated from the window's opening to the end of the
    grace period does the visit; when `covers`, an entry does every visit whose window its
    period (occurred_on to end_on) overlaps, as one apatinib record covers many days."""

    key: str
    title: str
    entry_type: str
    interval_days: int
    window_before: int
    window_after: int
    grace_days: int
    anchor: Anchor
    first_visit: int
    stops: tuple[Stop, ...]
    drug: str | None = None
    covers: bool = False
    follow_ups_only: bool = False
    """For TumorAssessed: only follow-up reads count (a baseline scan is not a visit)."""

    def __post_init__(self) -> None:
        if self.interval_days <= 0 or self.window_before < 0 or self.window_after < 0:
            raise ValueError(f"{self.key}: the interval must be positive, windows not negative")
        if self.grace_days < 0:
            raise ValueError(f"{self.key}: the grace period cannot be negative")

    @property
    def window_days(self) -> int:
        """The window's width in days, its day excluded (7 either side: 14)."""
        return self.window_before + self.window_after

    def gap_after_missed(self, missed: int) -> int:
        """Elapsed days from one visit to the last day the visit `missed` + 1 visits later
        could still have been on time: `missed` whole intervals plus the window's width
        (FDA 2018's two missed 6-weekly reads: 2 x 42 + 14 = 98)."""
        return missed * self.interval_days + self.window_days


def _until_next_window(interval: int, window: int) -> int:
    """Overdue until the day before the next visit's window opens: a late visit still counts
    for its own slot, and no day belongs to two slots."""
    return interval - 2 * window - 1


IMAGING: Final = Activity(
    key="tumour_assessment", title="Tumour assessment (CT/MRI, RECIST 1.1 and mRECIST)",
    entry_type="TumorAssessed", interval_days=IMAGING_INTERVAL_DAYS,
    window_before=IMAGING_WINDOW_DAYS, window_after=IMAGING_WINDOW_DAYS,
    grace_days=_until_next_window(IMAGING_INTERVAL_DAYS, IMAGING_WINDOW_DAYS),
    anchor="treatment_start", first_visit=1,
    stops=("progression", "withdrawal", "death"), follow_ups_only=True,
)
CAMRELIZUMAB_CYCLES: Final = Activity(
    key="camrelizumab", title="Camrelizumab 200 mg IV, one infusion per 21-day cycle",
    entry_type="DoseAdministered", drug=CAMRELIZUMAB, interval_days=CAMRELIZUMAB_CYCLE_DAYS,
    window_before=CAMRELIZUMAB_WINDOW_DAYS, window_after=CAMRELIZUMAB_WINDOW_DAYS,
    grace_days=_until_next_window(CAMRELIZUMAB_CYCLE_DAYS, CAMRELIZUMAB_WINDOW_DAYS),
    anchor="first_dose", first_visit=0, stops=("discontinuation", "withdrawal", "death"),
)
APATINIB_DOSING: Final = Activity(
    key="apatinib", title="Apatinib daily dosing: a dosing record covering each 21-day cycle",
    entry_type="DoseAdministered", drug=APATINIB, interval_days=CAMRELIZUMAB_CYCLE_DAYS,
    window_before=0, window_after=CAMRELIZUMAB_CYCLE_DAYS - 1,
    grace_days=CAMRELIZUMAB_CYCLE_DAYS, anchor="first_dose", first_visit=0,
    stops=("discontinuation", "withdrawal", "death"), covers=True,
)
"""The window is the cycle itself; the record of a cycle may come in the next one (grace)."""
FOLLOW_UP: Final = Activity(
    key="follow_up", title="Survival follow-up contact every 12 weeks",
    entry_type="FollowUpContact", interval_days=FOLLOW_UP_INTERVAL_DAYS,
    window_before=FOLLOW_UP_WINDOW_DAYS, window_after=FOLLOW_UP_WINDOW_DAYS,
    grace_days=_until_next_window(FOLLOW_UP_INTERVAL_DAYS, FOLLOW_UP_WINDOW_DAYS),
    anchor="end_of_treatment", first_visit=1, stops=("death", "consent_withdrawn"),
)

SCHEDULE: Final[tuple[Activity, ...]] = (IMAGING, CAMRELIZUMAB_CYCLES, APATINIB_DOSING,
                                         FOLLOW_UP)
"""The whole schedule, in the order reports list it."""
ACTIVITY_KEYS: Final = tuple(activity.key for activity in SCHEDULE)

MISSED_GAP_DAYS: Final = IMAGING.gap_after_missed(MISSED_ASSESSMENTS)
"""FDA 2018: PD or death more than this many elapsed days after the last adequate read (two
missed imaging visits plus the window's width: 98 with 6-weekly scans +/- 7 days) is censored
at that read (domain.analysis.time_to_event)."""
