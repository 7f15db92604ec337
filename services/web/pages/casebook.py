"""A participant's casebook as a timeline, at any recorded moment of their history.

The page reads what `GET /api/v1/participants/{id}` (the casebook: effective entries, target
sums and responses per criterion, best overall response), `GET .../events` (every recorded
event, with the moments the as-of control moves through) and `GET .../audit-report` (who
changed what, from which value to which, and why) read, with the same site check: another
site's participant is the same "not enrolled at a site you may access" as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from domain.entries import Entry
from domain.events import ADMINISTRATIVE_TYPES
from domain.participant import RECORD_KEEPING_TYPES
from domain.protocol import CRITERIA
from projections.audit_trail import AuditFilters
from projections.queries import audit_page
from services.api.deps import LedgerDep
from services.api.routes.participants import ParticipantId, read_casebook, read_events
from services.web.params import WebAsOf, WebCutoff
from services.web.render import page
from services.web.session import WebActorDep

router = APIRouter(prefix="/app", include_in_schema=False)


@dataclass
class Correction:
    """One later change to an entry: when, by whom, why, and each field's old and new value."""

    recorded_at: str
    recorded_by: str
    role: str
    reason: str
    kind: str
    changes: list[dict[str, Any]]


@dataclass
class Item:
    """One entry on the timeline, as effective at the chosen moment."""

    event_id: str
    on: str
    kind: str
    css: str
    title: str
    details: list[str]
    voided: bool = False
    corrections: list[Correction] = field(default_factory=list)


@router.get("/participants/{participant_id}", response_class=HTMLResponse)
def casebook_page(participant_id: ParticipantId, request: Request, ledger: LedgerDep,
                  actor: WebActorDep, as_of: WebAsOf = None, cutoff: WebCutoff = None
                  ) -> HTMLResponse:
    book = read_casebook(participant_id, ledger, actor, as_of, cutoff)
    events = read_events(participant_id, ledger, actor, as_of)
    moments = [{"value": e["recorded_at"], "version": e["version"], "type": e["type"],
                "by": e["recorded_by"]}
               for e in read_events(participant_id, ledger, actor, None)]
    audit = audit_page(ledger, request.app.state.engine, after=0, limit=100_000,
                       filters=AuditFilters.of(participant_id=participant_id, as_of=as_of))
    items = timeline(ledger.participant(participant_id, as_of=as_of).entries, book, events,
                     audit["entries"])
    return page(request, "casebook.html", actor=actor, section="participants", book=book,
                items=items, moments=moments, as_of=as_of,
                cutoff=None if cutoff is None else cutoff.isoformat(), criteria=CRITERIA,
                chosen=_chosen(moments, as_of))


def _chosen(moments: list[dict[str, Any]], as_of: str | None) -> int:
    """The index of the last moment recorded at or before `as_of` (the latest without one)."""
    if as_of is None:
        return len(moments) - 1
    known = [i for i, m in enumerate(moments) if m["value"] <= as_of]
    return known[-1] if known else 0


def timeline(entries: dict[str, Entry], book: dict[str, Any], events: list[dict[str, Any]],
             audit: list[dict[str, Any]]) -> list[Item]:
    """Every clinical entry in clinical-date order (same date: recording order), with the
    corrections and voids later recorded against it."""
    by_event = {e["event_id"]: e for e in audit}
    targets: dict[str, list[Correction]] = {}
    for event in events:
        if event["type"] not in ADMINISTRATIVE_TYPES:
            continue
        target = event["data"].get("corrects") or event["data"].get("voids")
        found = by_event.get(event["event_id"], {})
        targets.setdefault(str(target), []).append(Correction(
            recorded_at=event["recorded_at"], recorded_by=event["recorded_by"],
            role=event["role"], reason=event["reason"] or "",
            kind="voided" if event["type"] == "EntryVoided" else "corrected",
            changes=list(found.get("changes") or [])))
    sums = {(a["event_id"], a["criterion"]): a for a in book.get("assessments", [])}
    items = []
    for entry in sorted(entries.values(), key=lambda e: (e.occurred_on, e.version)):
        if entry.type in ADMINISTRATIVE_TYPES or entry.type in RECORD_KEEPING_TYPES:
            continue
        kind, css, title, details = describe(entry, sums)
        items.append(Item(entry.event_id, entry.occurred_on.isoformat(), kind, css, title,
                          details, voided=entry.voided_by is not None,
                          corrections=targets.get(entry.event_id, [])))
    return items


def describe(entry: Entry, sums: dict[tuple[str, str], dict[str, Any]]
             ) -> tuple[str, str, str, list[str]]:
    """(kind, css class, headline, detail lines) of one entry, from its effective data."""
    d = entry.data
    match entry.type:
        case "ParticipantEnrolled":
            return ("enrolment", "k-enrol", f"Enrolled at {d.get('site_id')}", [
                (f"consent {d.get('consented_on')}; {d.get('sex')}, born {d.get('birth_year')}; "
                f"ECOG {d.get('ecog')}; Child-Pugh {d.get('child_pugh')}; BCLC {d.get('bclc')}"),
                (f"PVTT {_yes(d.get('pvtt'))}; extrahepatic spread "
                f"{_yes(d.get('extrahepatic_spread'))}; {d.get('etiology')}; "
                f"AFP {d.get('afp_ng_ml')} ng/mL")])
        case "DoseAdministered":
            until = f" to {d['end_on']}" if d.get("end_on") else ""
            cycle = f", cycle {d['cycle']}" if d.get("cycle") else ""
            return ("dose", "k-dose", (f"{d.get('drug')} {d.get('dose_mg'):g} mg "
                    f"{d.get('route')}{cycle}{until}"), [])
        case "DoseModified":
            new = f" to {d['new_dose_mg']:g} mg" if d.get("new_dose_mg") else ""
            ae = f" (adverse event {d['adverse_event_id']})" if d.get("adverse_event_id") else ""
            return ("dose change", "k-dose", f"{d.get('drug')} {d.get('action')}{new}",
                    [f"{d.get('reason')}{ae}"])
        case "TACEPerformed":
            lipiodol = f", lipiodol {d['lipiodol_ml']:g} ml" if d.get("lipiodol_ml") else ""
            embolic = f", {d['embolic_agent']}" if d.get("embolic_agent") else ""
            return ("TACE", "k-tace", (f"{d.get('technique')}: {d.get('agent')} "
                    f"{d.get('agent_dose_mg'):g} mg{lipiodol}{embolic}"), [])
        case "TumorAssessed":
            lines = []
            for criterion in CRITERIA:
                row = sums.get((entry.event_id, criterion))
                if row is None:
                    continue
                total = "not measured" if row.get("sum_mm") is None else f"{row['sum_mm']:g} mm"
                verdict = (f"; response {row['response']}" if row.get("response")
                           else f"; {row.get('role', '').replace('_', ' ')}")
                lines.append(f"{criterion}: target sum {total}{verdict}")
            baseline = "baseline " if d.get("baseline") else ""
            return ("scan", "k-scan", (f"{baseline}{d.get('modality')} read by "
                    f"{d.get('reader')}"), lines)
        case "AdverseEventReported":
            serious = ", serious" if d.get("serious") else ""
            related = ", ".join(d.get("related_to") or []) or "none"
            return ("adverse event", "k-ae", (f"{d.get('ae_id')} {d.get('term')}: grade "
                    f"{d.get('grade')}{serious}"), [f"related to {related}"])
        case "AdverseEventUpdated":
            parts = [f"grade {d['grade']}" if d.get("grade") is not None else "",
                     "serious" if d.get("serious") else "",
                     "related to " + ", ".join(d["related_to"]) if d.get("related_to") else ""]
            return ("AE change", "k-ae", f"{d.get('ae_id')} now "
                    + ", ".join(p for p in parts if p), [])
        case "AdverseEventResolved":
            return ("AE resolved", "k-ae", (f"{d.get('ae_id')} resolved: "
                    f"{str(d.get('outcome')).replace('_', ' ')}"), [])
        case "AnticancerTherapyStarted":
            return ("other therapy", "k-other", f"{d.get('therapy')} ({d.get('category')})",
                    [])
        case "FollowUpContact":
            return ("contact", "k-other", "Known alive", [])
        case "ParticipantWithdrew":
            follow = "follow-up allowed" if d.get("follow_up_allowed") else "no follow-up"
            return ("withdrawal", "k-other", f"Withdrew: {d.get('reason')}", [follow])
        case "ParticipantDied":
            return ("death", "k-death", f"Died: {d.get('cause')}", [])
    return (entry.type, "k-other", entry.type, [])


def _yes(value: object) -> str:
    return "yes" if value else "no"
