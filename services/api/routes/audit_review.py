"""Audit-trail review (EMA guideline on computerised systems in clinical trials, 2023, §6.2.2).

`GET /api/v1/audit-review` is the report over a recorded-time window (services/audit_review.py):
entries outside working hours, late entries, many corrections or bulk edits by one user,
repeated failed sign-ins and attempts on participants outside a user's sites, each finding
naming its entries. A monitor reviews their own sites; data managers and auditors every site.
`POST /api/v1/audit-reviews` records a reviewer's signed review of that report (password again,
meaning, printed name; bound to the report's hash and the ledger position it reached), in its
own stream `audit-review:<uuid>`. `GET /api/v1/audit-reviews` lists them, as of a recorded time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from domain.audit_review import WEEKDAYS, WorkingHours
from domain.errors import FieldProblem, InvalidEntry
from infra.ledger.chain import format_recorded_at
from infra.logging import get_logger
from services.api.audit_review_schemas import (
    HOURS,
    SITE_PATTERN,
    ReviewListOut,
    ReviewOut,
    ReviewReportOut,
    ReviewRequest,
)
from services.api.deps import EARLIEST_AS_OF, ActorDep, AsOfDep, LedgerDep, author_of, request_id
from services.api.responses import CONFLICT_409, WRONG_PASSWORD_401, merged
from services.api.routes.audit import RECORDED, _recorded_range
from services.api.scope import readable_sites
from services.api.sign_in_guard import clock, sign_in_policy
from services.application import Actor
from services.audit_review import (
    ReviewScope,
    record_review,
    recorded_reviews,
    report,
    reviewable,
)
from services.authentication import authenticate

router = APIRouter(prefix="/api/v1", tags=["audit"])
log = get_logger("trial_ledger.audit_review")

CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^(24):(00)$")
OFFSET = re.compile(r"^([+-])(0[0-9]|1[0-4]):([0-5][0-9])$")
DAYS = re.compile(rf"^({'|'.join(WEEKDAYS)})(,({'|'.join(WEEKDAYS)}))*$")


def working_hours(start: str, end: str, days: str, offset: str, where: str) -> WorkingHours:
    """The working hours the four texts give; InvalidEntry naming each bad one (at
    `<where><name>`, e.g. query.work_start)."""
    problems: list[FieldProblem] = []
    moments = {}
    for name, text in (("work_start", start), ("work_end", end)):
        match = CLOCK.fullmatch(text)
        if match is None:
            problems.append(FieldProblem(f"{where}{name}", "not a time of day as HH:MM "
                                                           "(00:00 to 24:00), e.g. 07:00"))
        else:
            hour, minute = (match[1], match[2]) if match[1] else (match[3], match[4])
            moments[name] = int(hour) * 60 + int(minute)
    if len(moments) == 2 and moments["work_start"] >= moments["work_end"]:
        problems.append(FieldProblem(f"{where}work_end", "not after work_start: the working "
                                                         "day would be empty"))
    if DAYS.fullmatch(days) is None:
        problems.append(FieldProblem(f"{where}work_days", "not a comma-separated list of "
                                                          f"{', '.join(WEEKDAYS)}"))
    zone = OFFSET.fullmatch(offset)
    if zone is None:
        hint = (": the '+' arrived as a space; URL-encode it as %2B" if offset.startswith(" ")
                else "")
        problems.append(FieldProblem(f"{where}utc_offset", "not an offset from UTC as +HH:MM or "
                                                           f"-HH:MM (at most 14 hours){hint}"))
    if problems:
        raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)
    assert zone is not None
    minutes = (int(zone[2]) * 60 + int(zone[3])) * (-1 if zone[1] == "-" else 1)
    return WorkingHours(moments["work_start"], moments["work_end"],
                        frozenset(WEEKDAYS.index(d) for d in days.split(",")),
                        timedelta(minutes=minutes))


def _sites(actor: Actor, site_id: str | None) -> tuple[str, ...] | None:
    """The reviewer's sites, narrowed to `site_id`: a site they may not read gives none (the
    same answer as a site with nothing recorded)."""
    readable = readable_sites(actor, "read_audit")
    if site_id is None:
        return readable
    return (site_id,) if readable is None or site_id in readable else ()


SiteQuery = Annotated[str | None, Query(
    pattern=SITE_PATTERN, examples=["S01"],
    description="Only this site's entries (study-wide entries, such as sign-ins, are left "
                "out).")]


@router.get("/audit-review", response_model=ReviewReportOut)
def audit_review(
    request: Request, ledger: LedgerDep, actor: ActorDep,
    recorded_from: Annotated[str | None, Query(
        max_length=64, examples=["2026-03-01T00:00:00Z"],
        description=RECORDED.format("after") + " Default: 31 days before the end.")] = None,
    recorded_to: Annotated[str | None, Query(
        max_length=64, examples=["2026-03-31T23:59:59.999999Z"],
        description=RECORDED.format("before") + " Default and latest: the ledger's "
                                                "head.")] = None,
    site_id: SiteQuery = None,
    work_start: Annotated[str, Query(max_length=5, description=HOURS)] = "07:00",
    work_end: Annotated[str, Query(max_length=5)] = "19:00",
    work_days: Annotated[str, Query(max_length=27)] = "mon,tue,wed,thu,fri",
    utc_offset: Annotated[str, Query(max_length=6, description=(
        "e.g. +08:00 (URL-encode `+` as %2B) or -05:00"))] = "+00:00",
) -> dict[str, Any]:
    """The audit-trail review report over a recorded-time window: each finding names the
    entries (ledger positions and event ids) it comes from. Read it, then record a signed
    review of it with POST /api/v1/audit-reviews and the same parameters and `report_hash`."""
    problems: list[FieldProblem] = []
    bounds = _recorded_range(recorded_from, recorded_to, problems)
    if problems:
        raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)
    hours = working_hours(work_start, work_end, work_days, utc_offset, "query.")
    scope = ReviewScope(bounds[0], bounds[1], _sites(actor, site_id), hours, "query.")
    return report(ledger, request.app.state.engine, scope)


def _stored(name: str, moment: datetime) -> str:
    """A body's recorded time as stored text (see `recorded_moment`)."""
    try:
        return format_recorded_at(max(moment, EARLIEST_AS_OF))
    except OverflowError:
        msg = "outside the range of recorded times (years 0001 to 9999 in UTC)"
        raise InvalidEntry(f"{name}: {msg}", [FieldProblem(name, msg)]) from None


@router.post("/audit-reviews", status_code=201, response_model=ReviewOut,
             responses=merged(WRONG_PASSWORD_401, CONFLICT_409))
def record_audit_review(body: Annotated[ReviewRequest, Body()], request: Request,
                        ledger: LedgerDep, actor: ActorDep) -> dict[str, Any]:
    """Record a signed review of the report the same parameters give: refused (409
    `report_changed`) unless `report_hash` is the report's hash as it reads now; a wrong
    password is 401 and counts toward the lockout. The signature shows the reviewer's printed
    name, its meaning and the time it was recorded."""
    start, end = _stored("recorded_from", body.recorded_from), _stored("recorded_to",
                                                                        body.recorded_to)
    if start > end:
        problem = FieldProblem("recorded_to", "earlier than recorded_from: the window is empty")
        raise InvalidEntry(f"{problem.loc}: {problem.msg}", [problem])
    hours = working_hours(body.work_start, body.work_end, body.work_days, body.utc_offset, "")
    scope = ReviewScope(start, end, _sites(actor, body.site_id), hours)
    notes = [(f.finding_id, f.note) for f in body.findings]
    current = reviewable(ledger, request.app.state.engine, scope,
                         expected_hash=body.report_hash, notes=notes)
    account = authenticate(ledger, actor.username, body.password.get_secret_value(),
                           purpose="signature", request_id=request_id(request),
                           policy=sign_in_policy(request), now=clock(request))
    review = record_review(ledger, current, notes=notes, conclusion=body.conclusion,
                           full_name=account.full_name, meaning=body.meaning,
                           by=author_of(actor, request))
    log.info("audit_review_recorded", user=actor.username, review=review["review_id"],
             findings=len(review["finding_ids"]), position=review["position"])
    return review


@router.get("/audit-reviews", response_model=ReviewListOut)
def list_audit_reviews(ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None
                       ) -> dict[str, Any]:
    """Recorded reviews, oldest first, as of a recorded time: a monitor sees the reviews of
    their own sites."""
    return {"reviews": recorded_reviews(ledger, as_of=as_of,
                                        sites=readable_sites(actor, "read_audit")),
            "as_of": as_of}
