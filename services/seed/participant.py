"""One participant's plan, from enrollment to death, withdrawal or the cutoff: baseline, the
latent course, then the collaborators in a fixed order (scans, treatment, adverse events, the
dose changes they cause, and what follows treatment), all drawing from the participant's own
random stream in that order, so the same seed gives the same trial."""

from __future__ import annotations

import random
from datetime import date

from services.seed.adverse_events import AdverseEventPlan
from services.seed.baseline import enrollment_data, tumour_burden
from services.seed.disease import disease_course
from services.seed.scans import ScanSchedule
from services.seed.timeline import Draft, Timeline
from services.seed.treatment import TreatmentPlan
from services.seed.trial_calendar import DATA_CUTOFF, days

OFF_PROTOCOL_THERAPY_SHARE = 0.55
SUBSEQUENT_THERAPIES = (
    ("lenvatinib", "systemic"), ("regorafenib", "systemic"), ("sorafenib", "systemic"),
    ("donafenib", "systemic"), ("HAIC (FOLFOX)", "locoregional"),
    ("stereotactic body radiotherapy", "radiotherapy"),
)


class ParticipantBuilder:
    """Plans one participant's events from enrollment to death, withdrawal or the cutoff."""

    def __init__(self, rng: random.Random, participant_id: str, site_id: str,
                 enrolled_on: date) -> None:
        self.rng = rng
        self.participant_id = participant_id
        self.site_id = site_id
        self.enrollment = enrollment_data(rng, site_id, enrolled_on)
        targets, non_targets = tumour_burden(rng, self.enrollment)
        self.course = disease_course(rng, self.enrollment, bool(non_targets))
        course = self.course
        modality = "MRI" if rng.random() < 0.4 else "CT"
        reader = f"Site {site_id} radiologist {rng.choice('ABC')}"
        baseline_on = enrolled_on + days(rng.randint(0, 3))
        start = baseline_on + days(rng.randint(3, 10))
        died_on = start + days(course.death_day) if course.death_day is not None else None
        if died_on is not None and died_on > DATA_CUTOFF:
            died_on = None
        withdrew_on = (start + days(course.withdrawal_day)
                       if course.withdrawal_day is not None else None)
        if withdrew_on is not None and withdrew_on > DATA_CUTOFF:
            withdrew_on = None
        self.timeline = Timeline(rng, enrolled_on, start, died_on, withdrew_on)
        self.scans = ScanSchedule(self.timeline, course, targets, non_targets,
                                  baseline_on=baseline_on, modality=modality, reader=reader)
        self.treatment = TreatmentPlan(self.timeline)
        self.adverse_events = AdverseEventPlan(self.timeline, self.treatment, course.death_cause)
        self.follow_up_allowed = True

    def build(self) -> list[Draft]:
        """The story, in order: each step may depend on the ones before, and the order of the
        random draws is part of what a seed means."""
        timeline, scans, treatment = self.timeline, self.scans, self.treatment
        timeline.add("ParticipantEnrolled", timeline.enrolled_on, self.enrollment)
        scans.plan()
        scans.emit()
        treatment.plan_end(scans.progressed_on)
        treatment.plan_tace(scans.scans)
        self.adverse_events.plan()
        treatment.plan_holds(self.adverse_events.episodes)
        treatment.emit_camrelizumab()
        treatment.emit_apatinib()
        self.adverse_events.emit()
        self._emit_end_of_treatment()
        self._emit_follow_up()
        return timeline.drafts

    # -- after treatment ---------------------------------------------------------------------

    def _emit_end_of_treatment(self) -> None:
        """Discontinuation at progression or withdrawal; off-protocol therapy; withdrawal."""
        rng, timeline = self.rng, self.timeline
        self.treatment.emit_discontinuation()
        on = self.treatment.discontinued_on
        if timeline.withdrew_on is not None and timeline.withdrew_on <= timeline.last_on:
            self.follow_up_allowed = rng.random() < 0.5
            timeline.add("ParticipantWithdrew", timeline.withdrew_on,
                         {"reason": rng.choice(("withdrew consent",
                                                "moved away from the study site",
                                                "wishes no further study visits")),
                          "follow_up_allowed": self.follow_up_allowed})
        elif self.scans.progressed_on is not None and on is not None:
            therapy_on = on + days(rng.randint(10, 45))
            limit = timeline.died_on - days(7) if timeline.died_on else DATA_CUTOFF
            if rng.random() < OFF_PROTOCOL_THERAPY_SHARE and therapy_on <= limit:
                therapy, category = rng.choice(SUBSEQUENT_THERAPIES)
                timeline.add("AnticancerTherapyStarted", therapy_on,
                             {"therapy": therapy, "category": category})

    def _emit_follow_up(self) -> None:
        """Survival contacts every 2-3 months off treatment; death; a last contact at cutoff."""
        rng, timeline = self.rng, self.timeline
        if timeline.withdrew_on is not None and not self.follow_up_allowed:
            return
        off_treatment = self.treatment.discontinued_on or timeline.withdrew_on
        last_seen = max(d.occurred_on for d in timeline.drafts)
        if off_treatment is not None:
            on = off_treatment + days(rng.randint(56, 92))
            while on <= timeline.last_on and (timeline.died_on is None or on < timeline.died_on):
                timeline.add("FollowUpContact", on, {"alive": True},
                             entry_lag=rng.randint(0, 10))
                last_seen = on
                on += days(rng.randint(56, 92))
        if timeline.died_on is not None:
            timeline.add("ParticipantDied", timeline.died_on, {"cause": self.course.death_cause},
                         entry_lag=rng.randint(2, 21))
        elif (DATA_CUTOFF - last_seen).days > 30:
            timeline.add("FollowUpContact", DATA_CUTOFF - days(rng.randint(0, 14)),
                         {"alive": True})
