"""The rules read a recorded entry's data as its typed payload (`Entry.payload`): every field by
name and type, dates as dates, tumour reads as `Read`s, and never re-checked against today's
input rules, so an entry recorded under an older, laxer release still loads."""

from __future__ import annotations

from datetime import date

import pytest

from domain.entries import Entry
from domain.events import (
    CATALOGUE,
    AdverseEventPayload,
    DoseAdministeredData,
    DoseModifiedData,
    ParticipantEnrolledData,
    TumorAssessedData,
    stored_payload,
)
from domain.response.reads import Read, TargetLesion


def _entry(event_type: str, data: dict[str, object]) -> Entry:
    return Entry(event_id="e1", type=event_type, version=2, occurred_on=date(2024, 3, 1),
                 data=data, reason=None, actor="crc", role="site_coordinator")


def test_every_catalogued_payload_round_trips_through_its_stored_form() -> None:
    enrolled = ParticipantEnrolledData(
        site_id="S01", consented_on=date(2024, 1, 5), sex="F", birth_year=1960, ecog=1,
        child_pugh="A5", bclc="C", pvtt=True, extrahepatic_spread=False, etiology="HBV",
        afp_ng_ml=412.5)
    dosed = DoseAdministeredData(drug="apatinib", dose_mg=250, route="oral", cycle=1,
                                 end_on=date(2024, 2, 1))
    scan = TumorAssessedData.model_validate({
        "modality": "CT", "baseline": False, "reader": "Dr A",
        "reads": {"RECIST 1.1": {"targets": [{"lesion_id": "T1", "organ": "liver",
                                              "diameter_mm": 31}],
                                 "new_lesions": [{"lesion_id": "N1", "organ": "lung",
                                                  "unequivocal": True}]}}})
    for name, payload in (("ParticipantEnrolled", enrolled), ("DoseAdministered", dosed),
                          ("TumorAssessed", scan)):
        stored = payload.model_dump(mode="json")
        assert stored_payload(name, stored) == payload, name
        assert type(stored_payload(name, stored)) is CATALOGUE[name].payload


def test_dates_become_dates_and_reads_become_reads() -> None:
    dose = _entry("DoseAdministered", {"drug": "apatinib", "dose_mg": 250, "route": "oral",
                                       "cycle": None, "end_on": "2024-03-28"})
    assert dose.payload_as(DoseAdministeredData).end_on == date(2024, 3, 28)
    scan = _entry("TumorAssessed", {"modality": "MRI", "baseline": True, "reader": "Dr B",
                                    "reads": {"mRECIST": {"targets": [
                                        {"lesion_id": "T1", "organ": "liver",
                                         "diameter_mm": 42.0}]}}})
    read = scan.payload_as(TumorAssessedData).reads["mRECIST"]
    assert isinstance(read, Read)
    assert read.targets == [TargetLesion(lesion_id="T1", organ="liver", diameter_mm=42.0)]


def test_a_stored_payload_is_not_rechecked_against_todays_rules() -> None:
    """A 1,200 mg apatinib dose is refused at entry today; one already in the log still reads."""
    with pytest.raises(ValueError, match="less than or equal to 1000"):
        DoseAdministeredData(drug="apatinib", dose_mg=1200, route="oral")
    dose = _entry("DoseAdministered", {"drug": "apatinib", "dose_mg": 1200, "route": "oral",
                                       "cycle": None, "end_on": None})
    assert dose.payload_as(DoseAdministeredData).dose_mg == 1200


def test_a_correction_replaces_the_data_and_so_the_payload() -> None:
    change = _entry("DoseModified", {"drug": "apatinib", "action": "interrupted",
                                     "new_dose_mg": None, "reason": "AE",
                                     "adverse_event_id": None})
    assert change.payload_as(DoseModifiedData).action == "interrupted"
    assert change.payload is change.payload, "built once while the data stands"
    change.data = {**change.data, "action": "discontinued"}
    assert change.payload_as(DoseModifiedData).action == "discontinued"


def test_asking_for_the_wrong_model_names_the_entry() -> None:
    change = _entry("DoseModified", {"drug": "apatinib", "action": "resumed",
                                     "new_dose_mg": None, "reason": "recovered",
                                     "adverse_event_id": None})
    with pytest.raises(TypeError, match="DoseModified entry e1 holds DoseModifiedData, "
                                        "not TumorAssessedData"):
        change.payload_as(TumorAssessedData)
    resolved = _entry("AdverseEventResolved", {"ae_id": "AE-3", "outcome": "recovered"})
    assert resolved.payload_as(AdverseEventPayload).ae_id == "AE-3"
