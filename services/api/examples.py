"""Example event submissions for the OpenAPI document: one for every event type, and one
correction of every clinical type, so a client developer sees each body as it is accepted.

One participant's story at site S01 (the same bodies as docs/examples/, which a test keeps
equal to these). A correction repeats the corrected entry's data whole, with the fields put
right; its own `occurred_on` is the day it is made, and only `data.occurred_on` would move the
corrected entry's clinical date.
"""

from __future__ import annotations

from typing import Any

from domain.events import CATALOGUE

PLACEHOLDER_EVENT_ID = "00000000-0000-4000-8000-000000000000"
"""Stands for the event_id the server gave the entry being corrected or voided."""


def _read(diameters: tuple[float, float]) -> dict[str, Any]:
    return {"targets": [{"lesion_id": f"T{i}", "organ": "liver", "nodal": False,
                         "diameter_mm": d, "too_small": False}
                        for i, d in enumerate(diameters, start=1)],
            "non_targets": [{"lesion_id": "NT1", "organ": "portal vein", "status": "present"}],
            "new_lesions": []}


def _scan(on: str, baseline: bool, recist: tuple[float, float], mrecist: tuple[float, float]
          ) -> dict[str, Any]:
    return {"type": "TumorAssessed", "occurred_on": on,
            "data": {"modality": "CT", "baseline": baseline, "reader": "Dr. Reader",
                     "reads": {"RECIST 1.1": _read(recist), "mRECIST": _read(mrecist)}}}


STORY: dict[str, dict[str, Any]] = {
    "enrollment": {"type": "ParticipantEnrolled", "occurred_on": "2026-01-10", "data": {
        "site_id": "S01", "consented_on": "2026-01-05", "sex": "M", "birth_year": 1961,
        "ecog": 1, "child_pugh": "A5", "bclc": "C", "pvtt": True,
        "extrahepatic_spread": False, "etiology": "HBV", "afp_ng_ml": 412.0},
        "reason": None, "expected_version": 0},
    "baseline-scan": _scan("2026-01-12", True, (42.0, 28.0), (38.0, 25.0)),
    "tace": {"type": "TACEPerformed", "occurred_on": "2026-01-14", "data": {
        "technique": "cTACE", "agent": "epirubicin", "agent_dose_mg": 50, "lipiodol_ml": 10}},
    "camrelizumab-dose": {"type": "DoseAdministered", "occurred_on": "2026-01-15", "data": {
        "drug": "camrelizumab", "dose_mg": 200, "route": "IV", "cycle": 1}},
    "apatinib-dose": {"type": "DoseAdministered", "occurred_on": "2026-01-18", "data": {
        "drug": "apatinib", "dose_mg": 250, "route": "oral", "end_on": "2026-02-07"}},
    "adverse-event": {"type": "AdverseEventReported", "occurred_on": "2026-01-25", "data": {
        "ae_id": "AE1", "term": "Hypertension", "grade": 2, "serious": False,
        "related_to": ["apatinib"], "immune_related": False}},
    "adverse-event-update": {"type": "AdverseEventUpdated", "occurred_on": "2026-02-01",
                             "data": {"ae_id": "AE1", "grade": 3}},
    "dose-modification": {"type": "DoseModified", "occurred_on": "2026-02-01", "data": {
        "drug": "apatinib", "action": "reduced", "new_dose_mg": 125,
        "reason": "grade 3 hypertension", "adverse_event_id": "AE1"}},
    "adverse-event-resolved": {"type": "AdverseEventResolved", "occurred_on": "2026-02-20",
                               "data": {"ae_id": "AE1", "outcome": "recovered"}},
    "follow-up-scan": _scan("2026-02-25", False, (30.0, 19.0), (15.0, 0.0)),
    "anticancer-therapy": {"type": "AnticancerTherapyStarted", "occurred_on": "2026-08-01",
                           "data": {"therapy": "lenvatinib", "category": "systemic"}},
    "follow-up-contact": {"type": "FollowUpContact", "occurred_on": "2026-09-01",
                          "data": {"alive": True}},
    "withdrawal": {"type": "ParticipantWithdrew", "occurred_on": "2026-09-05",
                   "data": {"reason": "moved abroad", "follow_up_allowed": True}},
    "death": {"type": "ParticipantDied", "occurred_on": "2026-09-20",
              "data": {"cause": "disease progression"}},
    "correction": {"type": "EntryCorrected", "occurred_on": "2026-01-14",
                   "reason": "lipiodol volume mis-transcribed from the procedure report "
                             "(12 ml, not 10 ml)",
                   "data": {"corrects": PLACEHOLDER_EVENT_ID, "data": {
                       "technique": "cTACE", "agent": "epirubicin", "agent_dose_mg": 50,
                       "lipiodol_ml": 12}}},
    "void": {"type": "EntryVoided", "occurred_on": "2026-01-15",
             "reason": "duplicate entry: the cycle 1 infusion was posted twice",
             "data": {"voids": PLACEHOLDER_EVENT_ID}},
}


def correction_of(body: dict[str, Any]) -> dict[str, Any]:
    """A correction of the entry `body` records: its data whole, its clinical date kept."""
    return {"type": "EntryCorrected", "occurred_on": "2026-11-30",
            "reason": "transcription error found at source data verification",
            "data": {"corrects": PLACEHOLDER_EVENT_ID, "data": body["data"]}}


def submission_examples() -> dict[str, dict[str, Any]]:
    """`openapi_examples` for the event submission body: every type, then a correction of
    every clinical type, and a correction that moves a clinical date explicitly."""
    examples: dict[str, dict[str, Any]] = {}
    for name, body in STORY.items():
        examples[name] = {"summary": f"{body['type']}: {CATALOGUE[body['type']].summary}",
                          "value": body}
    for name, body in STORY.items():
        if CATALOGUE[body["type"]].clinical:
            examples[f"correct-{name}"] = {
                "summary": f"EntryCorrected of a {body['type']} (its data whole, date kept)",
                "value": correction_of(body)}
    moved = correction_of(STORY["adverse-event"])
    moved["data"]["occurred_on"] = "2026-01-24"
    examples["correct-adverse-event-onset"] = {
        "summary": "EntryCorrected that moves an adverse event's onset (data.occurred_on)",
        "value": moved}
    return examples
