"""Strict value types for clinical input: what a number, a date or a set may be.

JSON has no dates and one kind of number, and pydantic's lax mode is generous with both: it
reads `true` as 1, `2.0` as 2, 1735689600 as a date. A clinical record wants none of that:

- an integer is a JSON integer (never a boolean or a float), a boolean is a JSON boolean;
- a measurement is a finite JSON number within a plausible range, given to at most
  `DECIMALS` decimal places (an integer is fine), so 1e-300 mg is refused;
- a date is the string YYYY-MM-DD (or a `date` from our own code), nothing else;
- a list that is a set (an AE's attributions) names each value once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, Strict
from pydantic_core import PydanticCustomError

DECIMALS = 3
"""A measurement's resolution: 0.001 of its unit is finer than any instrument this trial uses."""
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
T = TypeVar("T")


def today() -> date:
    """Today in UTC: the same clock the application uses for "not in the future"."""
    return datetime.now(UTC).date()


def _iso_date_only(value: Any) -> Any:
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise PydanticCustomError("date_type", "Input should be a date string YYYY-MM-DD")
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_format", "Input should be a date string YYYY-MM-DD")
    return value


def _resolution(value: float) -> float:
    if round(value, DECIMALS) != value:
        raise PydanticCustomError(
            "measure_resolution", "Input should have at most {decimals} decimal places",
            {"decimals": DECIMALS})
    return value


def measure(low: float, high: float, *, above_low: bool = False) -> Any:
    """A finite JSON number (an integer is fine, a boolean or a string is not) in
    [low, high] (or (low, high] with `above_low`), to at most DECIMALS decimal places."""
    bounds = Field(gt=low, le=high) if above_low else Field(ge=low, le=high)
    return Annotated[float, Strict(), bounds, Field(allow_inf_nan=False),
                     AfterValidator(_resolution)]


def _not_in_future(value: date) -> date:
    if value > today():
        raise PydanticCustomError("date_in_future",
                                  "Input should not be in the future (today is {today})",
                                  {"today": today().isoformat()})
    return value


def _must_be_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be a valid boolean")
    return value


def _unique(values: Sequence[T] | None) -> Sequence[T] | None:
    if values is None:
        return None
    repeated = sorted(str(v) for v, n in Counter(values).items() if n > 1)
    if repeated:
        raise PydanticCustomError("list_unique", "Input should name each value once; "
                                  "repeated: {repeated}", {"repeated": ", ".join(repeated)})
    return values


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]
"""A calendar date, only as YYYY-MM-DD."""
PastDate = Annotated[date, BeforeValidator(_iso_date_only), AfterValidator(_not_in_future)]
"""A calendar date (YYYY-MM-DD) that is not after today (UTC)."""
Count = Annotated[int, Strict()]
"""An integer that is a JSON integer: never `true`, never `2.0`."""
Flag = Annotated[bool, Strict()]
"""A JSON boolean: never 1, never "true"."""
STRICT_LITERAL = BeforeValidator(_must_be_bool)
"""For a `Literal[True]` field: 1 is not true."""
UNIQUE = AfterValidator(_unique)
"""For a list that is a set: each value at most once."""
