"""The audit trail: every event once, in order, with who, what, when, why and what changed."""

from __future__ import annotations

import difflib
import html
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection, Engine

from domain.access_log import AccessLog
from domain.account import Account
from domain.audit_review import AuditReview
from domain.errors import FieldProblem, InvalidEntry
from domain.exports import ExportRecord
from domain.ledger_event import LedgerEvent
from domain.participant import Participant
from domain.queries import Query as QueryRecord
from domain.sdv import SourceVerification
from domain.security_log import SecurityLog
from domain.study import Study
from infra.ledger.chain import format_recorded_at
from projections.audit_trail import AuditFilters, reading
from projections.queries import audit_page, participant_count
from projections.state import state_hashes
from services.access import authorize
from services.api.deps import EARLIEST_AS_OF, ActorDep, AsOfDep, LedgerDep, recorded_moment
from services.api.responses import PARTICIPANT_404
from services.api.routes.participants import ParticipantId, _readable
from services.api.scope import empty_state, participant_summaries, readable_sites, scope, where
from services.api.study_schemas import AuditPage, ProjectionState
from services.application import PARTICIPANT_TOPIC_PREFIX, TrialLedger

router = APIRouter(prefix="/api/v1", tags=["audit"])


MAX_POSITION = 2**63 - 1  # the largest BIGINT: a larger cursor is refused before any query
SITE_ID = r"^[A-Z0-9][A-Z0-9-]{0,15}$"
ROLE = r"^(site_coordinator|investigator|monitor|data_manager|auditor|admin|system|none)$"
"""A role an entry may be recorded in: an account's (domain/account.py ROLES), the ledger's own
(`system`) or none (a sign-in by a username with no account)."""


def _event_types() -> tuple[str, ...]:
    """Every event type the ledger records (an entry's `type`), sorted."""
    names = {value.__name__ for aggregate in (Participant, Account, Study, SecurityLog,
                                                           ExportRecord, SourceVerification,
                                                           AccessLog, AuditReview, QueryRecord)
             for value in vars(aggregate).values()
             if isinstance(value, type) and issubclass(value, LedgerEvent)
             and value is not aggregate.Event}
    return tuple(sorted(names))


EVENT_TYPES = _event_types()
RECORDED = ("Recorded time (RFC 3339 with Z or an offset; URL-encode a `+` offset as %2B): "
            "entries recorded at or {} it.")


@router.get("/audit-trail", response_model=AuditPage, response_model_exclude_unset=True)
def audit_trail(
    request: Request, ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION,
                                description="Return entries after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    participant_id: Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")] = None,
    user: Annotated[str | None, Query(max_length=64,
                                      description="Entries recorded by this user.")] = None,
    role: Annotated[str | None, Query(
        pattern=ROLE, examples=["site_coordinator"],
        description="Entries recorded in this role (the author's role when recording; "
                    "`system`: the ledger's own, `none`: an attempt by no account).")] = None,
    site_id: Annotated[str | None, Query(
        pattern=SITE_ID, examples=["S01"],
        description="Entries of this site (the participant's site when the entry was "
                    "recorded).")] = None,
    event_type: Annotated[str | None, Query(
        pattern=r"^[A-Za-z]{1,64}$", examples=["EntryCorrected"],
        description="Entries of this event type (an entry's `type`).")] = None,
    recorded_from: Annotated[str | None, Query(
        max_length=64, examples=["2026-03-01T00:00:00Z"],
        description=RECORDED.format("after"))] = None,
    recorded_to: Annotated[str | None, Query(
        max_length=64, examples=["2026-03-31T23:59:59.999999Z"],
        description=RECORDED.format("before"))] = None,
) -> dict[str, Any]:
    """Cursor-paged audit trail: pass `next_after` back as `after` for the next page. Who,
    what, when and why come from each stored event after its hash is checked against the
    chain; an entry whose read-model row disagrees is shown with the event's values and
    `verified: false`. Events not yet projected are read from the log (read-your-writes).
    The filters combine (all must hold); a site you may not read answers as a site with no
    entries. `scope` names the sites whose entries you may read."""
    authorize(actor.role, actor.sites, "read_audit")
    sites = readable_sites(actor, "read_audit")
    problems = _event_type_problems(event_type)
    recorded = _recorded_range(recorded_from, recorded_to, problems)
    if problems:
        raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)
    filters = AuditFilters.of(participant_id=participant_id, user=user, readable=sites,
                              site_id=site_id, event_type=event_type,
                              recorded_from=recorded[0], recorded_to=recorded[1], as_of=as_of,
                              role=role)
    engine = request.app.state.engine
    with reading(engine) as conn:  # one checkout for the page and the count
        page = audit_page(ledger, conn, after=after, limit=limit, filters=filters)
        enrolled = _enrolled(ledger, conn, engine, sites, as_of)
    filtered = any(value is not None for value in (
        participant_id, user, site_id, event_type, recorded_from, recorded_to, role))
    nothing = "no audit entry " + ("matches these filters" if filtered else
                                   f"of {where(sites)} was recorded")
    # A page with entries covers something recorded by as_of: nothing to look up.
    state = ({"empty": False, "note": None} if page["entries"] else
             empty_state(engine, as_of, after > 0, nothing))
    return {**page, "scope": scope(sites, enrolled=enrolled, covered=enrolled, as_of=as_of),
            **state}


def _event_type_problems(name: str | None) -> list[FieldProblem]:
    """Why the `event_type` filter names no event the ledger records (empty: it does)."""
    if name is None or name in EVENT_TYPES:
        return []
    close = difflib.get_close_matches(name, EVENT_TYPES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return [FieldProblem("query.event_type",
                         f"not an event type{hint}; the event types are {', '.join(EVENT_TYPES)}")]


def _recorded_range(recorded_from: str | None, recorded_to: str | None,
                    problems: list[FieldProblem]) -> tuple[str | None, str | None]:
    """The recorded-time bounds as stored text; a problem added for each bad one, or for
    `recorded_to` when the range is reversed."""
    moments: dict[str, datetime] = {}
    for name, text in (("recorded_from", recorded_from), ("recorded_to", recorded_to)):
        if text is not None:
            try:
                moments[name] = recorded_moment(name, text)
            except InvalidEntry as error:
                problems += error.problems
    start, end = moments.get("recorded_from"), moments.get("recorded_to")
    if start is not None and end is not None and start > end:
        problems.append(FieldProblem("query.recorded_to", (
            f"earlier than recorded_from ({format_recorded_at(start)}): the range is empty")))
    return _stored_text(start), _stored_text(end)


def _stored_text(moment: datetime | None) -> str | None:
    """A recorded time as stored (as `as_of` is read: nothing was recorded before
    EARLIEST_AS_OF, so an earlier bound is read as it)."""
    return None if moment is None else format_recorded_at(max(moment, EARLIEST_AS_OF))


def _enrolled(ledger: TrialLedger, conn: Connection, engine: Engine,
              sites: tuple[str, ...] | None, as_of: str | None) -> int:
    """How many participants are enrolled at `sites` as of `as_of`: what
    `len(participant_summaries(...))` gives, counted in the store where it can be."""
    counted = participant_count(conn, sites, PARTICIPANT_TOPIC_PREFIX) if as_of is None else None
    if counted is None:
        return len(participant_summaries(ledger, engine, sites, as_of))
    unchanged, changed = counted
    return unchanged + sum(1 for pid in changed
                           if sites is None or ledger.participant(pid).site_id in sites)


@router.get("/projections", response_model=list[ProjectionState])
def projections(request: Request, ledger: LedgerDep, actor: ActorDep
                ) -> list[dict[str, Any]]:
    """Each read model's tracked position, row count and state hash, and how many events of
    the log it has not applied yet (the projection worker applies them; this read does not)."""
    authorize(actor.role, actor.sites, "read_audit")
    end = ledger.store.max_position()
    return [{**row, "log_position": end, "behind": max(0, end - row["position"])}
            for row in state_hashes(request.app.state.engine).values()]


@router.get("/participants/{participant_id}/audit-report", response_class=HTMLResponse,
            responses=PARTICIPANT_404)
def audit_report(participant_id: ParticipantId, request: Request, ledger: LedgerDep,
                 actor: ActorDep, as_of: AsOfDep = None) -> HTMLResponse:
    """A printable audit report of one participant: every entry with who, when, why, changes,
    from verified event bytes; entries that failed verification are marked."""
    participant = _readable(ledger, actor, participant_id, as_of)
    page = audit_page(ledger, request.app.state.engine, after=0, limit=100_000,
                      filters=AuditFilters.of(participant_id=participant_id, as_of=as_of))
    signatures = ledger.signatures_of(participant_id, as_of=as_of)
    return HTMLResponse(render_report(participant_id, participant.site_id, page["entries"],
                                      signatures, as_of))


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def render_report(participant_id: str, site_id: str, entries: list[dict[str, Any]],
                  signatures: list[dict[str, Any]], as_of: str | None) -> str:
    rows = []
    for e in entries:
        changes = "<br>".join(
            f"{_cell(c['field'])}: {_cell(c['old'])} &rarr; {_cell(c['new'])}"
            for c in e["changes"])
        flagged = "" if e.get("verified", True) else (
            "<br><strong>NOT VERIFIED:</strong> " + "; ".join(_cell(p) for p in e["problems"]))
        rows.append(
            "<tr>" + "".join(f"<td>{_cell(e[k])}</td>" for k in (
                "position", "recorded_at", "recorded_by", "role", "type", "occurred_on",
                "reason")) + f"<td>{changes}</td><td><code>{_cell(e['event_id'])}</code>"
            f"{flagged}</td></tr>")
    signed = "".join(
        f"<li><strong>{_cell(s.get('full_name'))}</strong> ({_cell(s.get('signer'))}) signed "
        f"&ldquo;{_cell(s.get('meaning'))}&rdquo; at {_cell(s.get('signed_at'))} covering "
        f"version {_cell(s.get('covers_version'))}, hash <code>{_cell(s.get('covers_hash'))}"
        f"</code>: <em>{_cell(s.get('status'))}</em>"
        + (f" by event <code>{_cell(s['invalidated_by'])}</code>" if s.get("invalidated_by")
           else "") + "</li>" for s in signatures)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Audit report {_cell(participant_id)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 6px;font-size:13px;vertical-align:top}}</style></head>
<body><h1>Audit report: participant {_cell(participant_id)} (site {_cell(site_id)})</h1>
<p>As of {_cell(as_of or "now")}. Every entry ever recorded for this participant, in the order it
was recorded; corrections and voids are listed as entries of their own, with the values they
changed.</p>
<h2>Electronic signatures</h2><ul>{signed or "<li>none</li>"}</ul>
<h2>Entries</h2>
<table><thead><tr><th>Position</th><th>Recorded at (UTC)</th><th>By</th><th>Role</th>
<th>Entry</th><th>Clinical date</th><th>Reason</th><th>Changes</th><th>Event id</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></body></html>"""
