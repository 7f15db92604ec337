"""The pages' query parameters: the API's, read as a browser form sends them.

A form's empty field arrives as `name=` (the "latest" or "today" choice of a select), which
the API would refuse as an empty time; here it means "not given". Anything else is checked
exactly as the API checks it, with the same 422 naming the parameter."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from domain.errors import FieldProblem, InvalidEntry
from domain.protocol import CRITERIA, Criterion
from services.api.deps import LedgerDep, recorded_time
from services.api.routes.analysis import parse_criteria, parse_cutoff


def web_as_of(as_of: Annotated[str | None, Query(max_length=64)] = None) -> str | None:
    return recorded_time("as_of", as_of) if as_of else None


def web_cutoff(ledger: LedgerDep,
               cutoff: Annotated[str | None, Query(max_length=64)] = None) -> date | None:
    return parse_cutoff(ledger, cutoff) if cutoff else None


def web_criteria(criteria: Annotated[str | None, Query(max_length=32)] = None) -> Criterion:
    """A criterion (default: RECIST 1.1, the first of the trial's)."""
    return parse_criteria(criteria) if criteria else CRITERIA[0]


def web_page_after(after: Annotated[str | None, Query(max_length=20)] = None) -> int:
    if not after:
        return 0
    if not after.isdigit() or int(after) > 2**62:
        raise InvalidEntry(f"after {after!r} is not a position (a whole number >= 0)",
                           [FieldProblem("query.after", "a whole number >= 0")])
    return int(after)


WebAsOf = Annotated[str | None, Depends(web_as_of)]
WebCutoff = Annotated[date | None, Depends(web_cutoff)]
WebCriteria = Annotated[Criterion, Depends(web_criteria)]
WebAfter = Annotated[int, Depends(web_page_after)]


def form_filter(name: str, value: str | None, pattern: str, meaning: str) -> str | None:
    """A filter field of a page's form: empty is "any"; anything else must match the API
    route's own pattern for that parameter (the page calls the route's function directly,
    so the route's declared checks are made here), or the 422 names the field."""
    if not value:
        return None
    if re.fullmatch(pattern, value) is None:
        raise InvalidEntry(f"{name} {value!r} is not {meaning}",
                           [FieldProblem(f"query.{name}", f"must be {meaning}")])
    return value
