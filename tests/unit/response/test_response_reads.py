"""The READ shape of docs/api.md: strict, self-contained, JSON round-trippable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from domain.response import Read

API_EXAMPLE: dict[str, Any] = {
    "targets": [
        {
            "lesion_id": "T1",
            "organ": "liver",
            "nodal": False,
            "diameter_mm": 42.0,
            "too_small": False,
        }
    ],
    "non_targets": [{"lesion_id": "NT1", "organ": "portal vein", "status": "present"}],
    "new_lesions": [
        {
            "lesion_id": "N1",
            "organ": "lung",
            "diameter_mm": 12.0,
            "unequivocal": True,
            "typical_hcc": True,
        }
    ],
}


def test_the_api_example_round_trips_through_json() -> None:
    parsed = Read.model_validate(API_EXAMPLE)
    assert json.loads(parsed.model_dump_json()) == API_EXAMPLE


def test_defaults_fill_the_optional_fields() -> None:
    parsed = Read.model_validate({"targets": [{"lesion_id": "T1", "organ": "liver"}]})
    lesion = parsed.targets[0]
    assert (lesion.nodal, lesion.diameter_mm, lesion.too_small) == (False, None, False)
    assert parsed.non_targets == []
    assert parsed.new_lesions == []


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"targets": [{"lesion_id": "T1", "organ": "liver", "diameter_mm": 10, "colour": "red"}]},
        {"targets": [{"lesion_id": "", "organ": "liver", "diameter_mm": 10}]},
        {"targets": [{"lesion_id": "T1", "organ": "liver", "diameter_mm": -1}]},
        {"targets": [{"lesion_id": "T1", "organ": "liver", "diameter_mm": float("nan")}]},
        {"targets": [{"lesion_id": "T" * 33, "organ": "liver", "diameter_mm": 10}]},
        {"non_targets": [{"lesion_id": "NT1", "organ": "bone", "status": "gone"}]},
        {"new_lesions": [{"lesion_id": "N1", "organ": "lung", "diameter_mm": 5}]},
    ],
)
def test_malformed_reads_are_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Read.model_validate({**API_EXAMPLE, **change})


def test_targets_are_required() -> None:
    with pytest.raises(ValidationError):
        Read.model_validate({"non_targets": []})


def test_a_repeated_lesion_id_is_named_in_the_error() -> None:
    twice = [
        {"lesion_id": "T2", "organ": "liver", "diameter_mm": 20},
        {"lesion_id": "T2", "organ": "lung", "diameter_mm": 15},
    ]
    with pytest.raises(ValidationError, match=r"lesion_id must be unique.*repeated: T2"):
        Read.model_validate({"targets": twice})


def test_a_lesion_id_names_one_lesion_across_the_lists_of_a_read() -> None:
    with pytest.raises(ValidationError, match=r"appears in more than one.*: L1"):
        Read.model_validate(
            {
                "targets": [{"lesion_id": "L1", "organ": "liver", "diameter_mm": 20}],
                "non_targets": [{"lesion_id": "L1", "organ": "bone", "status": "present"}],
            }
        )
