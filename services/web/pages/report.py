"""The study report: a PDF of the endpoints at a cutoff and as-of time, signed by whoever
issues it (password again, a meaning: 21 CFR 11.50, 11.200) and recorded in the ledger before
it is handed over (services/reports/issue.py). The figures and tables are the endpoints
page's (services/web/figures.py), for both criteria."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from domain.protocol import CRITERIA
from services.access import AccessDenied, authorize
from services.api.deps import LedgerDep, request_id
from services.api.routes.ledger import latest_checkpoint
from services.api.routes.participants import list_participants
from services.api.sign_in_guard import clock, sign_in_policy
from services.application import Actor, TrialLedger
from services.authentication import AuthenticationFailed
from services.reports.content import StudyReportContent
from services.reports.issue import issue_study_report
from services.web.figures import endpoints_at
from services.web.params import web_as_of, web_cutoff
from services.web.render import page
from services.web.session import WebActorDep, check_csrf, same_origin

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, actor: WebActorDep) -> HTMLResponse:
    return _form(request, actor, status=200, message="", cutoff="", as_of="", meaning="")


@router.post("/report")
def issue_report(
    request: Request, ledger: LedgerDep, actor: WebActorDep,
    password: Annotated[str, Form(max_length=1024)] = "",
    meaning: Annotated[str, Form(max_length=400)] = "",
    cutoff: Annotated[str, Form(max_length=64)] = "",
    as_of: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Sign, record, hand over: the PDF comes back only once its SHA-256 is in the ledger."""
    if not (same_origin(request) and check_csrf(request, csrf)):
        raise HTTPException(403, "this form must be sent from the report page of this app, "
                                 "signed in: open the page again and resend it")
    chosen_as_of = web_as_of(as_of)
    day = web_cutoff(ledger, cutoff)
    content = report_content(request, ledger, actor, day, chosen_as_of)
    try:
        issued = issue_study_report(ledger, actor, content, password=password, meaning=meaning,
                                    request_id=request_id(request),
                                    policy=sign_in_policy(request), now=clock(request))
    except AuthenticationFailed as failed:
        return _form(request, actor, status=401, message=str(failed), cutoff=cutoff,
                     as_of=as_of, meaning=meaning)
    return Response(issued.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{issued.file_name}"',
        "X-Export-Id": issued.export_id, "X-Content-SHA256": issued.sha256})


def report_content(request: Request, ledger: TrialLedger, actor: Actor, cutoff: Any,
                   as_of: str | None) -> StudyReportContent:
    """Every figure and table of the report, read as the endpoints page reads them."""
    by_criterion = {c: endpoints_at(request, ledger, actor, c, cutoff, as_of) for c in CRITERIA}
    first = by_criterion[CRITERIA[0]]
    plots = {"Kaplan-Meier: overall survival": first.figure("km-os")}
    for criterion, found in by_criterion.items():
        plots[f"Kaplan-Meier: progression-free survival ({criterion})"] = found.figure("km-pfs")
        plots[f"Waterfall: best change in target-lesion sum ({criterion})"] = \
            found.figure("waterfall")
    plots[f"Swimmer: time on study ({CRITERIA[0]})"] = first.figure("swimmer")
    report = first.reports[CRITERIA[0]]
    statuses = Counter(p["status"] for p in list_participants(request, ledger, actor,
                                                              as_of)["participants"])
    try:
        authorize(actor.role, actor.sites, "verify_ledger")
        checkpoint: dict[str, Any] | None = latest_checkpoint(ledger, actor).model_dump()
    except (AccessDenied, HTTPException):
        checkpoint = None
    return StudyReportContent(
        cutoff=first.cutoff, as_of=as_of,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        endpoints={c: found.reports[c] for c, found in by_criterion.items()},
        safety=first.safety, plots=plots,
        flow={"enrolled": report["population"]["enrolled"],
              "treated": report["population"]["treated"],
              "evaluable": report["population"]["evaluable"],
              "discontinued": statuses.get("follow_up", 0),
              "withdrawn": statuses.get("withdrawn", 0),
              "died": report["os"]["events"]},
        checkpoint=checkpoint, scope=report["scope"])


def _form(request: Request, actor: Actor, *, status: int, message: str, cutoff: str,
          as_of: str, meaning: str) -> HTMLResponse:
    return page(request, "report.html", actor=actor, section="report", status=status,
                message=message, cutoff=cutoff, as_of=as_of, meaning=meaning)
