"""The audit-trail review report over a recorded-time window, and recorded (signed) reviews.

The report reads the audit trail exactly as `GET /api/v1/audit-trail` does (projections/
queries.py `audit_page`: every entry checked against the hash chain, unverified ones flagged),
narrows it to the reviewer's sites and hands the entries to the rules of domain/audit_review.py.
Clinical entries and refused access attempts belong to a site (the participant's); account
events, sign-in failures and other study-wide entries belong to none and are reviewed by those
who may read every site.

The window ends at the ledger's head at most: recorded times only rise (infra/event_store.py),
so a report over a window that has ended is the same report whenever it is read again, and its
SHA-256 (`report_hash`) is what a signed review binds to. `record_review` reads the report
again and refuses (409 `report_changed`) a review whose hash differs from the one read now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from domain.access_log import ACCESS_LOG_ID
from domain.audit_review import (
    KINDS,
    AuditReview,
    Entry,
    WorkingHours,
    findings,
    report_hash,
    rules_view,
)
from domain.errors import FieldProblem, InvalidEntry, RuleViolation
from domain.ledger_event import Author
from domain.security_log import SECURITY_LOG_ID
from infra.ledger.chain import format_recorded_at, parse_recorded_at
from projections.audit_trail import AuditFilters, reading
from projections.queries import audit_page, feed_state
from services.application import TrialLedger

AUDIT_REVIEW_TOPIC_PREFIX = "domain.audit_review:"
DEFAULT_WINDOW = timedelta(days=31)
"""Without `recorded_from`, a report covers the 31 days before its end: one monitoring cycle."""
MAX_ENTRIES = 100_000
"""A report reads at most this many audit-trail entries; a wider window is refused (narrow it):
the rules hold every entry of the window in memory."""
PAGE = 1000
UNREADABLE = datetime.min.replace(tzinfo=UTC)
"""The recorded time of an entry whose stored event cannot be read (it is an unverified one)."""


@dataclass(frozen=True)
class ReviewScope:
    """What a report covers: recorded times (canonical text, both inclusive; None: the
    defaults), the sites (None: every site) and the working hours; `where` prefixes the
    location of a problem with them (`query.` for a GET's parameters)."""

    recorded_from: str | None
    recorded_to: str | None
    sites: tuple[str, ...] | None
    hours: WorkingHours
    where: str = ""


def report(ledger: TrialLedger, engine: Engine, scope: ReviewScope) -> dict[str, Any]:
    """The review report: window, sites, rules, the last ledger position in the window, how
    many entries were read, the findings and counts by kind, and `report_hash` over the rest."""
    head = ledger.store.head()
    end = head.recorded_at if head is not None else format_recorded_at(datetime.now(UTC))
    upper = min(scope.recorded_to, end) if scope.recorded_to is not None else end
    lower = scope.recorded_from or format_recorded_at(parse_recorded_at(upper) - DEFAULT_WINDOW)
    entries: list[dict[str, Any]] = []
    last: int | None = None
    if lower <= upper:
        filters = AuditFilters(recorded_from=lower, recorded_to=upper)
        with reading(engine) as conn:
            last = feed_state(conn, AuditFilters(recorded_to=upper)).last
            entries = _walk(ledger, conn, filters, scope.where)
    chosen = [e for e in _entries(ledger, entries) if _in_scope(e, scope.sites)]
    found = [f.view() for f in findings(chosen, scope.hours)]
    body: dict[str, Any] = {
        "window": {"recorded_from": lower, "recorded_to": upper},
        "sites": None if scope.sites is None else list(scope.sites),
        "rules": rules_view(scope.hours), "head_position": last,
        "entries_examined": len(chosen), "findings": found,
        "counts": {kind: sum(1 for f in found if f["kind"] == kind) for kind in KINDS}}
    return {**body, "report_hash": report_hash(body)}


def _walk(ledger: TrialLedger, conn: Any, filters: AuditFilters, where: str
          ) -> list[dict[str, Any]]:
    """Every audit-trail entry the filters select, page by page."""
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = audit_page(ledger, conn, after=after, limit=PAGE, filters=filters)
        entries += page["entries"]
        if len(entries) > MAX_ENTRIES:
            raise InvalidEntry(
                f"the window holds more than {MAX_ENTRIES} audit-trail entries: narrow it",
                [FieldProblem(f"{where}recorded_from", f"the window holds more than "
                                                       f"{MAX_ENTRIES} entries: choose a later "
                                                       "start")])
        if len(page["entries"]) < PAGE:
            return entries
        after = page["next_after"]


def _in_scope(entry: Entry, sites: tuple[str, ...] | None) -> bool:
    """Every entry for a reviewer of every site; else only the entries of the reviewer's
    sites (clinical entries, refused attempts on those sites' participants)."""
    if sites is None:
        return True
    return entry.site_id in sites and (entry.participant_id is not None
                                       or entry.type == "AccessRefused")


def _entries(ledger: TrialLedger, rows: list[dict[str, Any]]) -> list[Entry]:
    """The rules' view of verified audit-trail entries; what a security event is about
    (a typed name's digest, a refused attempt's participant) read from its stored event."""
    details = _security_details(ledger, rows)
    out = []
    for row in rows:
        detail, weight = details.get(row["event_id"], (None, 1))
        recorded = row["recorded_at"]
        occurred = row["occurred_on"]
        out.append(Entry(
            position=int(row["position"]), event_id=str(row["event_id"] or ""),
            type=str(row["type"] or ""), stream_id=str(row["stream_id"] or ""),
            participant_id=row["participant_id"], site_id=row["site_id"],
            recorded_at=parse_recorded_at(recorded) if recorded else UNREADABLE,
            recorded_by=str(row["recorded_by"] or ""), role=str(row["role"] or ""),
            occurred_on=_date(occurred), verified=bool(row.get("verified", True)),
            detail=detail, weight=weight))
    return out


def _date(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _security_details(ledger: TrialLedger, rows: list[dict[str, Any]]
                      ) -> dict[str, tuple[str | None, int]]:
    """(detail, weight) of the window's unknown-username failures and refused attempts, by
    event id."""
    wanted = {stream: {r["event_id"] for r in rows if r["stream_id"] == stream}
              for stream in (SECURITY_LOG_ID, ACCESS_LOG_ID)}
    out: dict[str, tuple[str | None, int]] = {}
    for stream, ids in wanted.items():
        if not ids:
            continue
        for event in ledger.repository.event_store.get(stream):
            event_id = getattr(event, "event_id", None)
            if isinstance(event_id, str) and event_id in ids:
                detail = getattr(event, "username_digest", None) or getattr(
                    event, "participant_id", None)
                out[event_id] = (detail, 1 + int(getattr(event, "unrecorded_before", 0) or 0))
    return out


def reviewable(ledger: TrialLedger, engine: Engine, scope: ReviewScope, *,
               expected_hash: str, notes: list[tuple[str, str]]) -> dict[str, Any]:
    """The report `scope` gives, if it is still the one whose hash the reviewer read and
    every note names one of its findings once; else RuleViolation (409) or InvalidEntry (422).
    Checked before the password, so a refused review writes nothing."""
    current = report(ledger, engine, scope)
    if current["report_hash"] != expected_hash:
        raise RuleViolation("report_changed", (
            f"the report over this window now has hash {current['report_hash']}, not "
            f"{expected_hash}: read it again (GET /api/v1/audit-review) and review that"),
            [FieldProblem("report_hash", "not the hash of the report as it reads now")])
    ids = [f["finding_id"] for f in current["findings"]]
    problems = [FieldProblem(f"findings.{i}.finding_id", f"{fid!r} is not a finding of this "
                             "report" if fid not in ids else f"{fid!r} is listed twice")
                for i, (fid, _) in enumerate(notes)
                if fid not in ids or [n for n, _ in notes].count(fid) > 1]
    if problems:
        raise InvalidEntry("; ".join(f"{p.loc}: {p.msg}" for p in problems), problems)
    return current


def record_review(ledger: TrialLedger, current: dict[str, Any], *,
                  notes: list[tuple[str, str]], conclusion: str, full_name: str, meaning: str,
                  by: Author) -> dict[str, Any]:
    """Record the signed review of `current` (a `reviewable` report; the password was checked
    by the caller); its view, with its ledger position and recorded (signing) time."""
    ids = [f["finding_id"] for f in current["findings"]]
    review = AuditReview.record(
        window=current["window"], sites=current["sites"], rules=current["rules"],
        head_position=current["head_position"], report_hash=current["report_hash"],
        finding_ids=ids, findings=[{"finding_id": f, "note": n} for f, n in notes],
        conclusion=conclusion, full_name=full_name, meaning=meaning, by=by)
    ledger.save(review)
    return _view(ledger, review.id, review)


def _view(ledger: TrialLedger, stream_id: str, review: AuditReview) -> dict[str, Any]:
    chain = ledger.store.chain_for_event(stream_id, 1)
    assert chain is not None, f"no chain row for {stream_id}"
    return {**review.view(), "position": chain.position, "signed_at": chain.recorded_at}


def recorded_reviews(ledger: TrialLedger, *, as_of: str | None = None,
                     sites: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Every review recorded (as of `as_of`) over sites within `sites` (None: every review),
    oldest first."""
    views = []
    for stream_id, _ in ledger.store.streams(AUDIT_REVIEW_TOPIC_PREFIX, as_of=as_of):
        review: AuditReview = ledger.repository.get(stream_id)
        view = _view(ledger, stream_id, review)
        if sites is None or (view["sites"] is not None and set(view["sites"]) <= set(sites)):
            views.append(view)
    return sorted(views, key=lambda view: view["position"])
