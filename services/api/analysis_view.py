"""The study-wide safety read as the API shows it (docs/api.md `GET /api/v1/safety`): the
cutoff and recorded time it answers for, then the report's tables.

The domain derives the report (`domain.study_reports`); this module gives it its JSON shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from domain.analysis.endpoints import rfc3339
from domain.analysis.safety import SafetyReport
from domain.entries import ParticipantHistory
from domain.study_reports import study_safety_report


def safety_body(report: SafetyReport, cutoff: date, as_of: datetime | None) -> dict[str, Any]:
    """The safety body of one report: `cutoff`, `as_of` (RFC 3339, or None) and the tables."""
    return {
        "cutoff": cutoff.isoformat(),
        "as_of": None if as_of is None else rfc3339(as_of),
        **report.to_dict(),
    }


def study_safety(
    participants: Iterable[ParticipantHistory], cutoff: date, as_of: datetime | None = None
) -> dict[str, Any]:
    """Treatment-emergent AE tables over the participants treated by the cutoff, as the API
    answers them."""
    return safety_body(study_safety_report(participants, cutoff), cutoff, as_of)
