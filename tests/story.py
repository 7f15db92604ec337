"""A trial participant's story as API bodies: enroll, treat, scan, report, correct, void."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def today() -> str:
    """The server's today (UTC): the date a correction made now carries."""
    return datetime.now(UTC).date().isoformat()


def enrollment(site_id: str = "S01", on: str = "2026-01-10", **overrides: Any) -> dict[str, Any]:
    data = {
        "site_id": site_id, "consented_on": "2026-01-05", "sex": "M", "birth_year": 1961,
        "ecog": 1, "child_pugh": "A5", "bclc": "C", "pvtt": True,
        "extrahepatic_spread": False, "etiology": "HBV", "afp_ng_ml": 412.0,
    }
    data.update(overrides)
    return {"type": "ParticipantEnrolled", "occurred_on": on, "data": data}


def camrelizumab(on: str, cycle: int = 1, dose_mg: float = 200) -> dict[str, Any]:
    return {"type": "DoseAdministered", "occurred_on": on,
            "data": {"drug": "camrelizumab", "dose_mg": dose_mg, "route": "IV", "cycle": cycle}}


def apatinib(on: str, end_on: str, dose_mg: float = 250) -> dict[str, Any]:
    return {"type": "DoseAdministered", "occurred_on": on,
            "data": {"drug": "apatinib", "dose_mg": dose_mg, "route": "oral", "end_on": end_on}}


def tace(on: str) -> dict[str, Any]:
    return {"type": "TACEPerformed", "occurred_on": on,
            "data": {"technique": "cTACE", "agent": "epirubicin", "agent_dose_mg": 50,
                     "lipiodol_ml": 10}}


def adverse_event(ae_id: str, on: str, term: str = "Hypertension", grade: int = 2,
                  related_to: tuple[str, ...] = ("apatinib",)) -> dict[str, Any]:
    return {"type": "AdverseEventReported", "occurred_on": on,
            "data": {"ae_id": ae_id, "term": term, "grade": grade, "serious": False,
                     "related_to": list(related_to), "immune_related": False}}


def ae_update(ae_id: str, on: str, grade: int) -> dict[str, Any]:
    return {"type": "AdverseEventUpdated", "occurred_on": on,
            "data": {"ae_id": ae_id, "grade": grade}}


def ae_resolved(ae_id: str, on: str) -> dict[str, Any]:
    return {"type": "AdverseEventResolved", "occurred_on": on,
            "data": {"ae_id": ae_id, "outcome": "recovered"}}


def follow_up(on: str) -> dict[str, Any]:
    return {"type": "FollowUpContact", "occurred_on": on, "data": {"alive": True}}


def death(on: str, cause: str = "disease progression") -> dict[str, Any]:
    return {"type": "ParticipantDied", "occurred_on": on, "data": {"cause": cause}}


def correction(event_id: str, on: str, data: dict[str, Any], reason: str = "transcription error",
               new_date: str | None = None) -> dict[str, Any]:
    """A correction made on `on`; `new_date` moves the corrected entry's clinical date."""
    body: dict[str, Any] = {"type": "EntryCorrected", "occurred_on": on, "reason": reason,
                            "data": {"corrects": event_id, "data": data}}
    if new_date is not None:
        body["data"]["occurred_on"] = new_date
    return body


def void(event_id: str, on: str, reason: str = "entered for the wrong participant"
         ) -> dict[str, Any]:
    return {"type": "EntryVoided", "occurred_on": on, "reason": reason,
            "data": {"voids": event_id}}


def scan(on: str, *, baseline: bool, recist_mm: list[float], mrecist_mm: list[float]
         ) -> dict[str, Any]:
    """A CT read with liver targets T1.. under both criteria."""
    def read(diameters: list[float]) -> dict[str, Any]:
        return {"targets": [{"lesion_id": f"T{i + 1}", "organ": "liver", "diameter_mm": d}
                            for i, d in enumerate(diameters)],
                "non_targets": [], "new_lesions": []}
    return {"type": "TumorAssessed", "occurred_on": on,
            "data": {"modality": "CT", "baseline": baseline, "reader": "Dr. Reader",
                     "reads": {"RECIST 1.1": read(recist_mm), "mRECIST": read(mrecist_mm)}}}
