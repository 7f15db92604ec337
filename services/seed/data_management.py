"""Data-management incidents, as a real EDC has them: a share of participants get a
transcription error that is entered first and corrected later with a reason (the data
manager's query answered by the site), and a share an adverse event entered in the wrong
casebook and voided by the data manager."""

from __future__ import annotations

import random

from domain.protocol import APATINIB, CAMRELIZUMAB, RECIST_11
from services.seed.baseline import mm
from services.seed.timeline import Draft

CORRECTION_SHARE = 0.15
VOID_SHARE = 0.05


def add_correction(rng: random.Random, drafts: list[Draft]) -> None:
    """A transcription error entered first, then corrected with a reason (the data manager's
    query answered by the site): a dose, a follow-up diameter, an AE grade, or the birth year."""
    kinds = ["dose", "diameter", "ae_grade", "birth_year"]
    rng.shuffle(kinds)
    for kind in kinds:
        if _try_correction(rng, drafts, kind):
            return


def _try_correction(rng: random.Random, drafts: list[Draft], kind: str) -> bool:
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
        lesion["diameter_mm"] = mm(right + 10.0)
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
    drafts.append(Draft("EntryCorrected", target.occurred_on,
                        {"corrects": None, "data": right_data}, reason=reason,
                        refers_to=target, entry_lag=rng.randint(14, 60)))
    return True


def add_void(rng: random.Random, drafts: list[Draft], ae_count: int) -> None:
    """An adverse event entered in this participant's casebook by mistake, then voided."""
    treated = [d for d in drafts if d.type == "DoseAdministered"]
    if not treated:
        return
    on = rng.choice(treated).occurred_on
    entry = Draft("AdverseEventReported", on, {
        "ae_id": f"AE-{ae_count + 1:02d}", "term": "Diarrhea", "grade": 1, "serious": False,
        "related_to": [APATINIB], "immune_related": False,
    }, entry_lag=rng.randint(0, 5))
    drafts.append(entry)
    drafts.append(Draft("EntryVoided", on, {"voids": None},
                        reason="entered in the wrong participant's casebook",
                        by_data_manager=True, refers_to=entry, entry_lag=rng.randint(7, 30)))
