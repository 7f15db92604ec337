"""What the plots draw, as frozen values checked once at the door.

A Kaplan-Meier curve arrives exactly as `GET /api/v1/endpoints/curves` returns it per endpoint
(domain/analysis/curves.py `SurvivalCurve.to_dict()`), so a page draws the API's own numbers and
a test can compare what was drawn with what the API said. Waterfall bars and swimmer lanes are
built by the pages from the read models. Anything a plot could not draw truthfully (a step
going up, an impossible tumour shrinkage, an unknown response) is refused here with a
ValueError rather than drawn wrong.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from domain.protocol import MEDIAN_TIE_TOLERANCE

BOR_CATEGORIES: Final = ("CR", "PR", "SD", "PD", "NE", "not evaluable")
"""Best overall response as the outcome read models spell it; "NE" and "not evaluable" are
drawn alike."""
MARK_KINDS: Final = ("CR", "PR", "SD", "PD", "death", "off-treatment")
"""Events on a swimmer lane: a response read (its first day), progression, death, and the end
of treatment."""


@dataclass(frozen=True, slots=True)
class KmPoint:
    """S just after `day` and its pointwise band (None where the API has none: S = 0)."""

    day: int
    survival: float
    lower: float | None
    upper: float | None
    at_risk: int
    events: int
    censored: int


@dataclass(frozen=True, slots=True)
class RiskCell:
    """Participants at risk at `day`: one cell of the table printed under the curve."""

    day: int
    at_risk: int


@dataclass(frozen=True, slots=True)
class KmCurve:
    """One endpoint's curve as the API returns it; `points` start at day 0 with S = 1."""

    n: int
    events: int
    points: tuple[KmPoint, ...]
    censor_marks: tuple[int, ...]
    risk_table: tuple[RiskCell, ...]

    def __post_init__(self) -> None:
        if self.n < 0 or self.events < 0 or self.events > self.n:
            raise ValueError(f"a curve needs 0 <= events <= n, not {self.events} of {self.n}")
        if self.points and (self.points[0].day, self.points[0].survival) != (0, 1.0):
            raise ValueError("a curve starts at day 0 with survival 1")
        for before, after in pairwise(self.points):
            if after.day <= before.day:
                raise ValueError(f"curve points must be in day order (day {after.day})")
            if after.survival > before.survival:
                raise ValueError(f"a survival curve never goes up (day {after.day})")
        for point in self.points:
            if not 0.0 <= point.survival <= 1.0:
                raise ValueError(f"survival is a probability, not {point.survival}")
        days = {point.day for point in self.points}
        for day in self.censor_marks:
            if day not in days:
                raise ValueError(f"censoring day {day} is not one of the curve's days")

    @classmethod
    def from_api(cls, curve: Mapping[str, Any]) -> KmCurve:
        """The API's dict (domain/analysis/curves.py `SurvivalCurve.to_dict()`) as values."""
        try:
            return cls(
                n=int(curve["n"]),
                events=int(curve["events"]),
                points=tuple(KmPoint(
                    day=int(point["day"]),
                    survival=float(point["survival"]),
                    lower=_optional_float(point["lower"]),
                    upper=_optional_float(point["upper"]),
                    at_risk=int(point["at_risk"]),
                    events=int(point["events"]),
                    censored=int(point["censored"]),
                ) for point in curve["points"]),
                censor_marks=tuple(int(day) for day in curve["censor_marks"]),
                risk_table=tuple(RiskCell(day=int(row["day"]), at_risk=int(row["at_risk"]))
                                 for row in curve["risk_table"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a curve as GET /api/v1/endpoints/curves returns it: {error}"
                             ) from error

    @property
    def last_day(self) -> int:
        """The last time of follow-up (an event or a censoring): where the drawn curve ends."""
        return self.points[-1].day if self.points else 0

    def survival_at(self, day: int) -> float:
        """S just after `day`: the height of the step there (1 before the first point)."""
        index = bisect_right([point.day for point in self.points], day)
        return self.points[index - 1].survival if index else 1.0

    def median_day(self) -> float | None:
        """The median as /endpoints reports it (domain/analysis/median_survival.py): the first
        event time with S <= 0.5, or on a flat at exactly 0.5 the midpoint of its start and the
        next event time (the last follow-up when no event follows); None if never reached."""
        event_points = [point for point in self.points if point.events > 0]
        for index, point in enumerate(event_points):
            if point.survival <= 0.5 + MEDIAN_TIE_TOLERANCE:
                if abs(point.survival - 0.5) > MEDIAN_TIE_TOLERANCE:
                    return float(point.day)
                following = event_points[index + 1:]
                end = following[0].day if following else self.last_day
                return (point.day + end) / 2
        return None


@dataclass(frozen=True, slots=True)
class WaterfallBar:
    """One participant's best percentage change of the target-lesion sum from baseline, and
    their best overall response (which colours the bar)."""

    participant_id: str
    best_change_pct: float
    bor: str

    def __post_init__(self) -> None:
        if self.bor not in BOR_CATEGORIES:
            raise ValueError(f"best overall response must be one of {BOR_CATEGORIES}, "
                             f"not {self.bor!r}")
        if not math.isfinite(self.best_change_pct) or self.best_change_pct < -100.0:
            raise ValueError("a change of a sum of diameters is a finite number >= -100%, "
                             f"not {self.best_change_pct!r}")


@dataclass(frozen=True, slots=True)
class SwimmerMark:
    """Something that happened on a participant's lane, `day` days after treatment start."""

    day: int
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in MARK_KINDS:
            raise ValueError(f"a swimmer mark is one of {MARK_KINDS}, not {self.kind!r}")
        if self.day < 0:
            raise ValueError(f"a swimmer mark is on day 0 or later, not {self.day}")


@dataclass(frozen=True, slots=True)
class SwimmerLane:
    """One participant: a bar from treatment start (day 0) to `end_day`, continuing (an arrow)
    when `ongoing`, with the marks of what happened (normally on the bar)."""

    participant_id: str
    end_day: int
    ongoing: bool
    marks: tuple[SwimmerMark, ...] = ()

    def __post_init__(self) -> None:
        if self.end_day < 0:
            raise ValueError(f"a lane ends on day 0 or later, not {self.end_day}")

    @property
    def last_day(self) -> int:
        """The lane's end or its last mark, whichever is later. They differ only where the
        sources disagree (an end of treatment dated after the last contact): the mark is then
        drawn where it was dated, past the bar, rather than the page refused."""
        return max([self.end_day, *(mark.day for mark in self.marks)])


def as_curve(curve: KmCurve | Mapping[str, Any]) -> KmCurve:
    """A curve from either the API's dict or an already parsed KmCurve."""
    return curve if isinstance(curve, KmCurve) else KmCurve.from_api(curve)


def counts_by(values: Sequence[str]) -> dict[str, int]:
    """How often each value occurs, in first-seen order (for legends and descriptions)."""
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
