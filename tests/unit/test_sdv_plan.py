"""The risk-based SDV plan: what is verified whole, and a sample that is the same on every read."""

from __future__ import annotations

import uuid

from domain.protocol import SDV_SAMPLING_PERCENT
from domain.sdv_plan import plan, sample_bucket, sampled
from tests import story
from tests.unit.test_participant_rules import enrolled, record

NAMESPACE = uuid.UUID("6f1c2d3e-0000-4000-8000-000000000000")


def test_the_sample_is_chosen_by_the_event_id_alone() -> None:
    """Pinned: SHA-256 of "sdv-sample:<event id>", its first 8 bytes big-endian, mod 100. A
    change to how the sample is drawn would move recorded entries in and out of the plan."""
    assert sample_bucket(str(uuid.UUID(int=0))) == 15
    assert sampled(str(uuid.UUID(int=0)))
    event_id = "0b7e6a53-2f1c-4c1e-9d61-6b0f3a4f8c11"
    assert sample_bucket(event_id) == 49 and not sampled(event_id)
    assert sampled(event_id, 50)


def test_the_sample_holds_the_planned_share_of_entries() -> None:
    ids = [str(uuid.uuid5(NAMESPACE, str(n))) for n in range(20_000)]
    share = sum(sampled(event_id) for event_id in ids) / len(ids)
    assert SDV_SAMPLING_PERCENT == 20
    assert 0.19 < share < 0.21
    assert sum(sampled(event_id, 50) for event_id in ids) / len(ids) > 0.48
    assert not any(sampled(event_id, 0) for event_id in ids)
    assert all(sampled(event_id, 100) for event_id in ids)


def test_endpoint_and_safety_entries_are_planned_whole() -> None:
    p = enrolled()
    scan = record(p, story.scan("2026-01-08", baseline=True, recist_mm=[40], mrecist_mm=[35]))
    dose = record(p, story.camrelizumab("2026-01-12"))
    severe = record(p, story.adverse_event("AE1", "2026-01-20", grade=3))
    severe_end = record(p, story.ae_resolved("AE1", "2026-01-30"))
    mild = record(p, story.adverse_event("AE2", "2026-01-21", grade=1))
    serious = story.adverse_event("AE3", "2026-01-22", grade=2)
    serious["data"]["serious"] = True
    serious_start = record(p, serious)
    died = record(p, story.death("2026-02-10"))
    items = plan(p)
    assert items[p.enrollment.event_id].reason == "eligibility and consent: 100%"
    for entry in (scan, severe, severe_end, serious_start, died):
        assert items[entry.event_id].required, entry.type
    assert items[scan.event_id].reason == "tumour assessment: 100%"
    assert items[severe_end.event_id].reason.startswith("serious or grade >= 3")
    for entry in (dose, mild):
        assert items[entry.event_id].required == sampled(entry.event_id)
        assert "20% sample" in items[entry.event_id].reason


def test_the_plan_reads_the_data_as_it_stands_now() -> None:
    p = enrolled()
    mild = story.adverse_event("AE1", "2026-01-20", grade=1)
    ids: list[str] = []
    for _ in range(30):  # an entry outside the sample, whatever ids are drawn
        reported = record(p, {**mild, "data": {**mild["data"], "ae_id": f"AE{len(ids)}"}})
        ids.append(reported.event_id)
    outside = next(event_id for event_id in ids if not sampled(event_id))
    assert not plan(p)[outside].required
    ae_id = p.entries[outside].data["ae_id"]
    record(p, story.correction(outside, "2026-11-25", {**p.entries[outside].data, "grade": 3}))
    assert plan(p)[outside].required  # corrected to grade 3: a severe AE, verified whole
    assert p.entries[outside].data["ae_id"] == ae_id
    record(p, story.void(outside, "2026-11-25"))
    assert outside not in plan(p)  # a voided entry is in no plan
