"""Response model of `GET /api/v1/endpoints/curves`: Kaplan-Meier step points, censoring ticks
and numbers at risk for OS, PFS and DOR, so a client draws the curves and the risk table under
them without fitting anything itself (domain/analysis/curves.py computes them)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from services.api.casebook_schemas import Answer, RecordedAt
from services.api.study_schemas import ScopedAnswer


class CurvePoint(Answer):
    """One step: the curve is flat from this day to the next point's day."""

    day: int = Field(ge=0, description="Days from the start (docs/rules.md \"Days\": end - "
                                       "start + 1; day 0 is the start, where S is 1.0).")
    survival: float = Field(ge=0, le=1, description="Kaplan-Meier S just after this day.")
    lower: float | None = Field(description="Pointwise 95% lower limit (log-log Greenwood, as "
                                            "the /endpoints rates); null where S is 0.")
    upper: float | None = Field(description="Pointwise 95% upper limit; null where S is 0.")
    at_risk: int = Field(ge=0, description="Participants at risk just before this day.")
    events: int = Field(ge=0, description="Events on this day.")
    censored: int = Field(ge=0, description="Participants censored on this day.")


class RiskRow(Answer):
    day: int = Field(ge=0, description="0, every, 2 x every, ... up to the last time.")
    at_risk: int = Field(ge=0, description="Participants whose time is this day or later.")


class Curve(Answer):
    """One endpoint over the treated participants it applies to (as /endpoints counts them)."""

    n: int = Field(description="Participants in the curve: the /endpoints `n`.")
    events: int = Field(description="Events: the /endpoints `events`.")
    points: list[CurvePoint] = Field(description="Day 0, then every distinct time (event or "
                                                 "censoring) in day order; empty when n is 0.")
    censor_marks: list[int] = Field(description="Days on which someone was censored, for "
                                                "the tick marks (each is also a point's day).")
    risk_table: list[RiskRow] = Field(description="Numbers at risk every `risk_table_every` "
                                                  "days from day 0.")


class Curves(Answer):
    os: Curve = Field(description="Overall survival, from treatment start.")
    pfs: Curve = Field(description="Progression-free survival, from treatment start.")
    dor: Curve = Field(description="Duration of response, from the confirmed responders' "
                                   "first response read.")


class CurvesOut(ScopedAnswer):
    """The curves behind `GET /api/v1/endpoints` for the same criteria, cutoff and as_of."""

    criteria: str
    cutoff: date
    as_of: RecordedAt
    curves: Curves
