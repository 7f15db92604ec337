"""The treatment plan: TACE on demand, camrelizumab 200 mg IV every 21 days for at most two
years, apatinib daily, the holds, reductions and discontinuations that toxicity and repeat
TACE cause, and the end of study treatment (progression under both criteria, withdrawal, death
or the cutoff)."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.protocol import (
    APATINIB,
    APATINIB_START_DOSE_MG,
    CAMRELIZUMAB,
    CAMRELIZUMAB_CYCLE_DAYS,
    CAMRELIZUMAB_DOSE_MG,
)
from services.seed.ae_kinds import DISCONTINUING_AES, AdverseEvent
from services.seed.kinetics import target_sums
from services.seed.scans import Scan
from services.seed.timeline import Timeline, TimelinePart
from services.seed.trial_calendar import DATA_CUTOFF, days

CAMRELIZUMAB_MAX_DAYS = 730
"""Camrelizumab is given for at most two years."""
APATINIB_REDUCED_DOSE_MG = 125.0


def _viable_at(scan: Scan) -> float:
    return target_sums(scan.measures)[0]


class TreatmentPlan(TimelinePart):
    """Plans one participant's study treatment and records its doses; `treat_until` is the last
    day a dose or TACE may be given."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(timeline)
        self.tace_dates: list[date] = []

    # -- when study treatment ends, and TACE -------------------------------------------------

    def plan_end(self, progressed_on: date | None) -> None:
        """Study treatment ends at progression under both criteria (decided within a week;
        progression seen under one criterion only is treated through), withdrawal, death or
        the cutoff; `treat_until` is the last day a dose or TACE may be given."""
        rng = self.rng
        self.discontinued_on: date | None = None
        self.discontinue_reason = ""
        ends: list[tuple[date, str]] = []
        if progressed_on is not None:
            decided = progressed_on + days(rng.randint(1, 7))
            ends.append((decided, "disease progression"))
        if self.withdrew_on is not None:
            ends.append((self.withdrew_on, "consent withdrawn"))
        if ends:
            self.discontinued_on, self.discontinue_reason = min(ends)
        if self.died_on is not None and (self.discontinued_on is None
                                         or self.died_on <= self.discontinued_on):
            self.discontinued_on, self.discontinue_reason = None, ""
            self.treat_until = self.died_on - days(rng.randint(2, 7))
            if progressed_on is not None:
                self.treat_until = min(self.treat_until, progressed_on - days(1))
        elif self.discontinued_on is not None:
            self.treat_until = self.discontinued_on - days(1)
            if progressed_on is not None and progressed_on <= self.treat_until:
                self.treat_until = progressed_on - days(1)
        else:
            self.treat_until = DATA_CUTOFF
        if self.discontinued_on is not None and self.discontinued_on > self.last_on:
            self.discontinued_on = None
        self.apatinib_until = (self.discontinued_on - days(1) if self.discontinued_on
                               else self.treat_until)
        self.apatinib_until = min(self.apatinib_until, self.treat_until + days(7), self.last_on)
        if self.withdrew_on is not None:
            self.apatinib_until = min(self.apatinib_until, self.withdrew_on)

    def plan_tace(self, scans: list[Scan]) -> None:
        """TACE on demand: 1-4 sessions (median 2), repeated after a scan with viable tumour."""
        sessions = self.rng.choices((1, 2, 3, 4), weights=(0.30, 0.35, 0.22, 0.13))[0]
        self.tace_dates = [self.start]
        follow_ups = [s for s in scans[1:] if not s.progression]
        for scan in follow_ups[: sessions - 1]:
            if _viable_at(scan) == 0:
                break
            on = scan.on + days(self.rng.randint(5, 14))
            if on > self.treat_until - days(3):
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
        self.camrelizumab_from = self.start + days(self.rng.randint(3, 7))
        self.apatinib_from = self.start + days(self.rng.randint(3, 7))

    # -- the holds and stops that adverse events and repeat TACE cause -----------------------

    def plan_holds(self, adverse_events: list[AdverseEvent]) -> None:
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
        camrelizumab_ends = self.camrelizumab_from + days(CAMRELIZUMAB_MAX_DAYS)
        severe = [e for e in adverse_events if e.severe_on is not None]
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
                    self.apatinib_until = severe_on - days(1)
                else:
                    back = severe_on + days(rng.randint(7, 21))
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
                    back = severe_on + days(rng.randint(21, 42))
                    self.camrelizumab_holds.append((severe_on, back, reason, episode.ae_id))
        for on in self.tace_dates[1:]:
            off, back = on - days(3), on + days(rng.randint(3, 7))
            if (self.apatinib_from < off and back <= self.apatinib_until
                    and not self._overlaps(self.apatinib_holds, off, back)):
                self.apatinib_holds.append((off, back, "held around TACE", None, False))
        self.apatinib_holds.sort()

    @staticmethod
    def _overlaps(holds: list[Any], first: date, last: date) -> bool:
        return any(first <= hold[1] and hold[0] <= last for hold in holds)

    def emit_camrelizumab(self) -> None:
        """200 mg IV every 21 days (window -1/+3 days), numbered cycles, at most two years."""
        rng = self.rng
        stop = self.treat_until
        completed_on = self.camrelizumab_from + days(CAMRELIZUMAB_MAX_DAYS)
        if self.camrelizumab_stopped is not None:
            stop = min(stop, self.camrelizumab_stopped[0] - days(1))
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
                on = max(t for t in self.tace_dates if -1 <= (on - t).days <= 2) + days(3)
                continue
            self.add("DoseAdministered", on, {"drug": CAMRELIZUMAB,
                                              "dose_mg": float(CAMRELIZUMAB_DOSE_MG),
                                              "route": "IV", "cycle": cycle},
                     entry_lag=rng.randint(0, 4))
            cycle += 1
            on += days(CAMRELIZUMAB_CYCLE_DAYS + rng.choice((0, 0, 0, 1, 2, 3, -1)))
        stopped = self.camrelizumab_stopped
        if stopped is not None and stopped[0] <= self.last_on:
            self.add("DoseModified", stopped[0], {"drug": CAMRELIZUMAB, "action": "discontinued",
                                                  "reason": stopped[1],
                                                  "adverse_event_id": stopped[2]})

    def emit_apatinib(self) -> None:
        """Daily-dosing periods between holds, each entered once it ends (or at the cutoff)."""
        dose = float(APATINIB_START_DOSE_MG)
        period_from = self.apatinib_from
        for off, back, reason, ae_id, reduce in self.apatinib_holds:
            if off > self.apatinib_until:
                break
            self._apatinib_period(period_from, off - days(1), dose)
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

    def emit_discontinuation(self) -> None:
        """Both drugs stop at progression or withdrawal, unless one stopped already."""
        on = self.discontinued_on
        if on is not None:
            for drug, stopped in ((CAMRELIZUMAB, self.camrelizumab_stopped),
                                  (APATINIB, self.apatinib_stopped)):
                if stopped is None or stopped[0] > on:
                    self.add("DoseModified", on, {"drug": drug, "action": "discontinued",
                                                  "reason": self.discontinue_reason})
