"""The audit trail: every event once, in order, with who, what, when, why and what changed."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from projections.queries import audit_page
from projections.state import state_hashes
from services.access import authorize
from services.api.deps import ActorDep, AsOfDep, LedgerDep
from services.api.responses import PARTICIPANT_404
from services.api.routes.participants import ParticipantId, _readable
from services.api.scope import empty_state, participant_summaries, readable_sites, scope, where
from services.api.study_schemas import AuditPage, ProjectionState

router = APIRouter(prefix="/api/v1", tags=["audit"])


MAX_POSITION = 2**63 - 1  # the largest BIGINT: a larger cursor is refused before any query


@router.get("/audit-trail", response_model=AuditPage, response_model_exclude_unset=True)
def audit_trail(
    request: Request, ledger: LedgerDep, actor: ActorDep, as_of: AsOfDep = None,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION,
                                description="Return entries after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    participant_id: Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Cursor-paged audit trail: pass `next_after` back as `after` for the next page. Who,
    what, when and why come from each stored event after its hash is checked against the
    chain; an entry whose read-model row disagrees is shown with the event's values and
    `verified: false`. Events not yet projected are read from the log (read-your-writes).
    `scope` names the sites whose entries you may read."""
    authorize(actor.role, actor.sites, "read_audit")
    sites = readable_sites(actor, "read_audit")
    engine = request.app.state.engine
    page = audit_page(ledger, engine, after=after, limit=limit,
                      participant_id=participant_id, user=user, as_of=as_of, sites=sites)
    enrolled = len(participant_summaries(ledger, engine, sites, as_of))
    nothing = "no audit entry " + ("matches these filters" if participant_id or user else
                                   f"of {where(sites)} was recorded")
    return {**page, "scope": scope(sites, enrolled=enrolled, covered=enrolled, as_of=as_of),
            **empty_state(engine, as_of, bool(page["entries"]) or after > 0, nothing)}


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
                      participant_id=participant_id, as_of=as_of)
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
