"""One tumour read: one reader, one criterion (docs/api.md, "A READ").

These models are the `data.reads` values of a `TumorAssessed` event, so they are strict
(unknown fields are an error) and JSON-serialisable (no NaN or infinity).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from domain.text import TEXT
from domain.values import Flag, measure

LesionId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
                     TEXT]
Organ = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), TEXT]
if TYPE_CHECKING:  # measure() builds the constrained float at run time
    DiameterMm: TypeAlias = float
else:
    DiameterMm = measure(0, 500)
    """A lesion's longest diameter (a node's short axis): no lesion read in this trial is
    50 cm."""
NonTargetStatus = Literal["absent", "present", "progression", "not_assessed"]


class _Lesion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lesion_id: LesionId
    organ: Organ


class TargetLesion(_Lesion):
    """A measured lesion: `diameter_mm` null = not assessed; `too_small` = 5 mm regardless."""

    nodal: Flag = False
    diameter_mm: DiameterMm | None = None
    too_small: Flag = False


class NonTargetLesion(_Lesion):
    """A lesion followed qualitatively."""

    status: NonTargetStatus


class NewLesion(_Lesion):
    """A lesion absent at baseline; whether it counts depends on the criterion."""

    diameter_mm: DiameterMm | None = None
    unequivocal: Flag
    typical_hcc: Flag = False


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

    @model_validator(mode="after")
    def _lesion_ids_unique_in_read(self) -> Read:
        """One lesion is a target, a non-target or a new lesion, never two of these."""
        duplicated = _duplicates([*self.targets, *self.non_targets, *self.new_lesions])
        if duplicated:
            raise ValueError("a lesion_id names one lesion in a read, but appears in more than "
                             f"one of targets, non_targets, new_lesions: {', '.join(duplicated)}")
        return self


def stored_read(raw: Mapping[str, Any]) -> Read:
    """A read as recorded in the log, rebuilt without today's input checks: it was checked
    when it was entered, under the rules of that release, and a stored read must always load
    (a stricter release must never make an older event unreadable)."""
    return Read.model_construct(
        targets=[TargetLesion.model_construct(**lesion) for lesion in raw.get("targets", [])],
        non_targets=[NonTargetLesion.model_construct(**lesion)
                     for lesion in raw.get("non_targets", [])],
        new_lesions=[NewLesion.model_construct(**lesion)
                     for lesion in raw.get("new_lesions", [])],
    )
