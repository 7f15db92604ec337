"""The adverse events the synthetic trial draws from: the treatment-emergent AEs of TACE +
camrelizumab + apatinib (CTCAE v5 terms, attribution, incidence, grade >= 3 share), the ones
that end a drug for good, and one participant's episode of an AE. Planned by
services/seed/adverse_events.py; the dose changes they cause by services/seed/treatment.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.protocol import APATINIB, CAMRELIZUMAB, RCCEP_TERM, TACE


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


@dataclass
class AdverseEvent:
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
