"""Clinical values are taken as sent or refused: no booleans read as numbers, no floats read as
integers, no implausible doses, dates or sizes, no repeated members of a set."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests import story
from tests.api.conftest import Api

PID = "HCC-01-030"


@pytest.fixture
def entered(api: Api) -> dict[str, Any]:
    assert api.post(PID, story.enrollment()).status_code == 201
    dose = api.post(PID, story.apatinib("2026-01-12", end_on="2026-01-30"))
    assert dose.status_code == 201
    return {"dose": dose.json()}


def _with(body: dict[str, Any], **data: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["data"].update(data)
    return body


AE = story.adverse_event("AE1", "2026-01-20")
ENROLL = story.enrollment()
TARGET = "data.reads.RECIST 1.1.targets.0"
SCAN = story.scan("2026-01-08", baseline=True, recist_mm=[42, 18], mrecist_mm=[35, 12])


def _scan_with(criterion: str, key: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(SCAN)
    body["data"]["reads"][criterion][key] = value
    return body


def _target(**fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(SCAN)
    body["data"]["reads"]["RECIST 1.1"]["targets"][0].update(fields)
    return body


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # (name, participant, body, where)
    ("grade true", PID, _with(AE, grade=True), "data.grade"),
    ("grade 2.0", PID, _with(AE, grade=2.0), "data.grade"),
    ("grade as text", PID, _with(AE, grade="2"), "data.grade"),
    ("serious 1", PID, _with(AE, serious=1), "data.serious"),
    ("related_to repeated", PID, _with(AE, related_to=["TACE", "TACE", "TACE"]),
     "data.related_to"),
    ("update related_to repeated", PID,
     {**story.ae_update("AE1", "2026-01-21", grade=3),
      "data": {"ae_id": "AE1", "related_to": ["apatinib", "apatinib"]}}, "data.related_to"),
    ("NUL in term", PID, _with(AE, term="Nausea\x00"), "data.term"),
    ("zero-width in term", PID, _with(AE, term="Nau\u200bsea"), "data.term"),
    ("dose 1e-300", PID, story.camrelizumab("2026-01-20", dose_mg=1e-300), "data.dose_mg"),
    ("dose true", PID, _with(story.camrelizumab("2026-01-20"), dose_mg=True), "data.dose_mg"),
    ("camrelizumab 2000 mg", PID, story.camrelizumab("2026-01-20", dose_mg=2000),
     "data.dose_mg"),
    ("camrelizumab 600 mg", PID, story.camrelizumab("2026-01-20", dose_mg=600), "data.dose_mg"),
    ("apatinib 0.5 mg", PID, story.apatinib("2026-01-20", "2026-01-25", dose_mg=0.5),
     "data.dose_mg"),
    ("apatinib 5000 mg", PID, story.apatinib("2026-01-20", "2026-01-25", dose_mg=5000),
     "data.dose_mg"),
    ("reduced to 1200 mg", PID,
     {"type": "DoseModified", "occurred_on": "2026-01-20",
      "data": {"drug": "apatinib", "action": "reduced", "new_dose_mg": 1200,
               "reason": "toxicity"}}, "data.new_dose_mg"),
    ("cycle 1.0", PID, _with(story.camrelizumab("2026-01-20"), cycle=1.0), "data.cycle"),
    ("end_on before occurred_on", PID, story.apatinib("2026-01-20", end_on="2026-01-10"),
     "data.end_on"),
    ("end_on 9999-12-31", PID, story.apatinib("2026-01-20", end_on="9999-12-31"),
     "data.end_on"),
    ("occurred_on a timestamp", PID, {**story.tace("x"), "occurred_on": 1768521600},
     "occurred_on"),
    ("occurred_on a datetime", PID, {**story.tace("x"), "occurred_on": "2026-01-16T00:00:00"},
     "occurred_on"),
    ("expected_version true", PID, {**story.tace("2026-01-16"), "expected_version": True},
     "expected_version"),
    ("lipiodol 500 ml", PID, _with(story.tace("2026-01-16"), lipiodol_ml=500),
     "data.lipiodol_ml"),
    ("agent dose 1e-300", PID, _with(story.tace("2026-01-16"), agent_dose_mg=1e-300),
     "data.agent_dose_mg"),
    ("alive 1", PID, {**story.follow_up("2026-01-20"), "data": {"alive": 1}}, "data.alive"),
    ("withdrawal flag 0", PID,
     {"type": "ParticipantWithdrew", "occurred_on": "2026-01-20",
      "data": {"reason": "moved", "follow_up_allowed": 0}}, "data.follow_up_allowed"),
    ("diameter 600 mm", PID, _target(diameter_mm=600), f"{TARGET}.diameter_mm"),
    ("diameter true", PID, _target(diameter_mm=True), f"{TARGET}.diameter_mm"),
    ("nodal 1", PID, _target(nodal=1), f"{TARGET}.nodal"),
    ("lesion id in targets and new lesions", PID,
     _scan_with("mRECIST", "new_lesions", [{"lesion_id": "T1", "organ": "liver",
                                             "unequivocal": True}]), "data.reads.mRECIST"),
    ("baseline 1", PID, _with(SCAN, baseline=1), "data.baseline"),
    ("consented_on 0001-01-01", "HCC-01-031", _with(ENROLL, consented_on="0001-01-01"),
     "data.consented_on"),
    ("consented_on before the study", "HCC-01-031", _with(ENROLL, consented_on="2018-12-31"),
     "data.consented_on"),
    ("consented_on in the future", "HCC-01-031", _with(ENROLL, consented_on="2999-01-01"),
     "data.consented_on"),
    ("birth_year true", "HCC-01-031", _with(ENROLL, birth_year=True), "data.birth_year"),
    ("birth_year 1961.0", "HCC-01-031", _with(ENROLL, birth_year=1961.0), "data.birth_year"),
    ("birth_year next century", "HCC-01-031", _with(ENROLL, birth_year=2100), "data.birth_year"),
    ("birth_year 1899", "HCC-01-031", _with(ENROLL, birth_year=1899), "data.birth_year"),
    ("ecog false", "HCC-01-031", _with(ENROLL, ecog=False), "data.ecog"),
    ("pvtt 1", "HCC-01-031", _with(ENROLL, pvtt=1), "data.pvtt"),
    ("afp 1e8", "HCC-01-031", _with(ENROLL, afp_ng_ml=1e8), "data.afp_ng_ml"),
    ("afp true", "HCC-01-031", _with(ENROLL, afp_ng_ml=True), "data.afp_ng_ml"),
]


@pytest.mark.parametrize(("name", "participant", "body", "where"), CASES,
                         ids=[c[0] for c in CASES])
def test_implausible_or_loosely_typed_clinical_input_is_refused_naming_the_field(
        api: Api, entered: dict[str, Any], name: str, participant: str, body: dict[str, Any],
        where: str) -> None:
    if name == "update related_to repeated":
        assert api.post(PID, AE).status_code == 201
    before = api.ledger_state()
    response = api.post(participant, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert where in [e["loc"] for e in response.json()["errors"]], response.json()
    assert api.ledger_state() == before


def test_a_correction_cannot_end_a_dosing_period_before_it_starts(
        api: Api, entered: dict[str, Any]) -> None:
    before = api.ledger_state()
    fixed = story.apatinib("x", end_on="2026-01-05")["data"]
    response = api.post(PID, story.correction(entered["dose"]["event_id"], "2026-01-12", fixed))
    assert response.status_code == 422, response.text
    assert "data.data.end_on" in [e["loc"] for e in response.json()["errors"]]
    assert api.ledger_state() == before


def test_plausible_values_as_integers_or_decimals_are_accepted(
        api: Api, entered: dict[str, Any]) -> None:
    for body in (story.camrelizumab("2026-01-20", dose_mg=200),
                 story.camrelizumab("2026-02-10", dose_mg=187.5),
                 story.apatinib("2026-01-31", end_on="2026-01-31", dose_mg=750),
                 _with(story.tace("2026-01-21"), agent_dose_mg=50, lipiodol_ml=12.5),
                 _with(AE, related_to=["apatinib", "TACE"], grade=3)):
        response = api.post(PID, body)
        assert response.status_code == 201, response.text
    stored = api.get(f"/api/v1/participants/{PID}/events").json()
    assert stored[2]["data"]["dose_mg"] == 200.0
    assert stored[-1]["data"]["grade"] == 3
