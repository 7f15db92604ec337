"""One tumour read: one reader, one criterion (API.md, "A READ").

These models are the `data.reads` values of a `TumorAssessed` event, so they are strict
(unknown fields are an error) and JSON-serialisable (no NaN or infinity).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

LesionId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Organ = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
DiameterMm = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NonTargetStatus = Literal["absent", "present", "progression", "not_assessed"]


class _Lesion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lesion_id: LesionId
    organ: Organ


class TargetLesion(_Lesion):
    """A measured lesion: `diameter_mm` null = not assessed; `too_small` = 5 mm regardless."""

    nodal: bool = False
    diameter_mm: DiameterMm | None = None
    too_small: bool = False


class NonTargetLesion(_Lesion):
    """A lesion followed qualitatively."""

    status: NonTargetStatus


class NewLesion(_Lesion):
    """A lesion absent at baseline; whether it counts depends on the criterion."""

    diameter_mm: DiameterMm | None = None
    unequivocal: bool
    typical_hcc: bool = False


def _duplicates(lesions: Sequence[_Lesion]) -> list[str]:
    counts = Counter(lesion.lesion_id for lesion in lesions)
    return sorted(lesion_id for lesion_id, n in counts.items() if n > 1)


class Read(BaseModel):
    """Target, non-target and new lesions seen by one reader under one criterion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[TargetLesion]
    non_targets: list[NonTargetLesion] = Field(default_factory=list)
    new_lesions: list[NewLesion] = Field(default_factory=list)

    @field_validator("targets", "non_targets", "new_lesions")
    @classmethod
    def _lesion_ids_unique(cls, lesions: list[_Lesion]) -> list[_Lesion]:
        """A lesion id names one lesion: it may appear only once in a list."""
        duplicated = _duplicates(lesions)
        if duplicated:
            repeated = ", ".join(duplicated)
            raise ValueError(f"lesion_id must be unique within the list; repeated: {repeated}")
        return lesions
