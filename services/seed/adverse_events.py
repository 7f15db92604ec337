"""Adverse events: each participant's episodes of the treatment-emergent AEs
(services/seed/ae_kinds.py) with their grade paths, and a fatal haemorrhage where that is the
cause of death. The dose changes the episodes
cause are planned with the treatment (services/seed/treatment.py)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from domain.protocol import APATINIB, TACE
from services.seed.ae_kinds import (
    POST_EMBOLISATION_AES,
    SYSTEMIC_AES,
    AdverseEvent,
    AdverseEventKind,
)
from services.seed.disease import HAEMORRHAGE
from services.seed.timeline import Timeline, TimelinePart
from services.seed.trial_calendar import days

if TYPE_CHECKING:
    from services.seed.treatment import TreatmentPlan


class AdverseEventPlan(TimelinePart):
    """Plans one participant's AE episodes (`plan`, after the TACE dates and the end of
    treatment are known) and records them (`emit`)."""

    def __init__(self, timeline: Timeline, treatment: TreatmentPlan, death_cause: str) -> None:
        super().__init__(timeline)
        self.treatment = treatment
        self.death_cause = death_cause
        self.episodes: list[AdverseEvent] = []

    def until(self) -> date:
        """AEs are followed to 30 days after the last dose, death, withdrawal or the cutoff."""
        limit = min(self.treatment.treat_until + days(30), self.last_on)
        return min(limit, self.withdrew_on) if self.withdrew_on else limit

    def _exposure_from(self, kind: AdverseEventKind) -> date:
        if APATINIB in kind.related_to:
            return self.treatment.apatinib_from
        return self.treatment.camrelizumab_from

    def plan(self) -> None:
        rng = self.rng
        episodes: list[AdverseEvent] = []
        until = self.until()
        for kind in SYSTEMIC_AES:
            if rng.random() >= kind.incidence:
                continue
            onset = self._exposure_from(kind) + days(rng.randint(*kind.onset_days))
            if onset > min(until, self.treatment.treat_until):
                continue
            episodes.append(self._episode(kind, onset))
        for on in self.treatment.tace_dates:
            for kind in POST_EMBOLISATION_AES:
                if rng.random() < kind.incidence:
                    onset = on + days(rng.randint(*kind.onset_days))
                    if onset <= until:
                        episodes.append(self._episode(kind, onset))
        if (self.died_on is not None and self.withdrew_on is None
                and self.death_cause == HAEMORRHAGE):
            fatal = AdverseEventKind("Upper gastrointestinal hemorrhage", (APATINIB,), 1.0, 1.0,
                                     (0, 0), 1.0)
            onset = max(self.start, self.died_on - days(rng.randint(0, 3)))
            episodes.append(AdverseEvent(fatal, onset, 5, [APATINIB] if rng.random() < 0.5
                                         else [], True, resolves_on=self.died_on,
                                         outcome="fatal"))
        episodes.sort(key=lambda e: (e.onset, e.kind.term))
        for number, episode in enumerate(episodes, start=1):
            episode.ae_id = f"AE-{number:02d}"
        self.episodes = episodes

    def _episode(self, kind: AdverseEventKind, onset: date) -> AdverseEvent:
        """Grade path: mild AEs may worsen one grade; severe ones start at 3 or worsen from 2,
        may improve, and most resolve."""
        rng = self.rng
        related = list(kind.related_to)
        if kind.laboratory and any(0 <= (onset - t).days <= 10 for t in self.treatment.tace_dates):
            related = [TACE]
        elif len(related) > 1 and rng.random() < 0.5:
            related = [rng.choice(related)]
        severe = rng.random() < kind.severe_share
        episode = AdverseEvent(kind, onset, 1, related, False)
        if severe:
            grade = 4 if kind.laboratory and rng.random() < 0.15 else 3
            if rng.random() < 0.5:
                episode.grade = grade
            else:
                episode.grade = 2
                episode.worsens_on = onset + days(rng.randint(4, 14))
                episode.worse_grade = grade
            episode.serious = grade == 4 or rng.random() < 0.25
            peak = episode.worsens_on or onset
            if rng.random() < 0.6:
                episode.improves_on = peak + days(rng.randint(7, 21))
            if rng.random() < kind.resolves_share:
                episode.resolves_on = peak + days(rng.randint(22, 70))
        else:
            episode.grade = 1 if rng.random() < 0.6 else 2
            if episode.grade == 1 and rng.random() < 0.25:
                episode.worsens_on = onset + days(rng.randint(7, 28))
                episode.worse_grade = 2
            if rng.random() < kind.resolves_share:
                window = (2, 7) if TACE in kind.related_to else (7, 90)
                episode.resolves_on = (episode.worsens_on or onset) + days(rng.randint(*window))
        return episode

    def emit(self) -> None:
        until = self.until()
        for episode in self.episodes:
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
