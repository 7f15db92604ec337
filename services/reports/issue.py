"""Issuing a study report: the signer types their password again, the PDF is rendered with the
signature manifestation, and its SHA-256 is recorded in the ledger before it is handed over.

Part 11 §11.200(a): a signature is executed by both of its components, the user id (the
signed-in account) and the password, checked exactly as a casebook signature checks it
(`POST /api/v1/participants/{id}/signatures`): a wrong password is refused, recorded as a
failed check of the account and counted toward its lockout, and nothing else is recorded.

Who may issue: a role the access table (services/access.py) lets both read the endpoints
(`read_clinical`) and produce exports (`export_data`): a data manager or an auditor for every
site, a monitor for a report that covers only their own sites. A site coordinator, an
investigator and an administrator may not. The record is an export of format `study-report`
(domain/exports.py) with the scope it covers (cutoff, as_of, sites) and the signature (signer,
time, meaning), so `trial-ledger export verify report.pdf` finds it by the file's hash.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from domain.errors import FieldProblem, InvalidEntry
from domain.ledger_event import Author
from domain.text import clean_text
from infra.ledger.chain import parse_recorded_at
from services.access import AccessDenied, Action, authorize, scope_of
from services.application import Actor, TrialLedger
from services.authentication import SignInPolicy, authenticate
from services.exports.record import record_export
from services.exports.scope import ExportScope
from services.reports.content import StudyReportContent
from services.reports.pdf import SignatureManifest, render_study_report

ISSUING_ACTIONS: tuple[Action, ...] = ("read_clinical", "export_data")
"""Reading the endpoints and producing exports: a role needs both to issue a study report."""
MEANING_MAX = 200
"""As long as a casebook signature's meaning may be (services/api/schemas.py)."""


@dataclass(frozen=True)
class IssuedReport:
    """The signed PDF as handed over, its SHA-256 (hex) and the export that records it."""

    pdf: bytes
    sha256: str
    export_id: str
    file_name: str
    position: int
    recorded_at: str


def issue_study_report(ledger: TrialLedger, actor: Actor, content: StudyReportContent, *,
                       password: str, meaning: str, request_id: str | None = None,
                       policy: SignInPolicy | None = None, now: datetime | None = None
                       ) -> IssuedReport:
    """Sign, render and record the study report; the PDF only once its hash is in the ledger.

    Raises AccessDenied (403) for a role that may not issue it or a monitor's report that
    covers another site, InvalidEntry (422) for an empty or malformed meaning (both before the
    password is checked, so neither costs an attempt), AuthenticationFailed (401) for a wrong
    password or an account that may not sign now. `policy` and `now` are the password check's
    (the API passes its sign-in policy and clock); `now` is also the time of signing."""
    sites = issuing_sites(actor, content)
    meaning = signature_meaning(meaning)
    as_of = None if content.as_of is None else parse_recorded_at(content.as_of)
    account = authenticate(ledger, actor.username, password, purpose="signature",
                           request_id=request_id, policy=policy, now=now)
    signed_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    signature = SignatureManifest(account.full_name, account.username, signed_at, meaning)
    pdf = render_study_report(content, signature)
    scope = ExportScope(created_at=signed_at, as_of=as_of, sites=sites, cutoff=content.cutoff)
    name = report_file_name(content, signed_at)
    with tempfile.TemporaryDirectory(prefix="trial-ledger-report-") as scratch:
        path = Path(scratch) / name
        path.write_bytes(pdf)
        receipt = record_export(ledger, "study-report", scope, [path],
                                Author(actor.username, actor.role, request_id), None,
                                signature=signature.record())
    return IssuedReport(pdf, receipt.files[0].sha256, receipt.export_id, name,
                        receipt.position, receipt.recorded_at)


def issuing_sites(actor: Actor, content: StudyReportContent) -> tuple[str, ...] | None:
    """The sites the report covers (None: every site), if `actor` may issue it; else
    AccessDenied. A role limited to its own sites may sign only a report of those sites."""
    for action in ISSUING_ACTIONS:
        authorize(actor.role, actor.sites, action)
    sites = content.sites
    own_only = any(scope_of(actor.role, action) == "own" for action in ISSUING_ACTIONS)
    if own_only and (sites is None or not set(sites) <= set(actor.sites)):
        raise AccessDenied("you may issue a study report only of the sites assigned to you "
                           f"({', '.join(actor.sites) or 'none'}); this one covers "
                           f"{'every site' if sites is None else ', '.join(sites)}")
    return sites


def signature_meaning(meaning: str) -> str:
    """The meaning as a casebook signature takes it: trimmed, 1 to 200 characters of short
    text (no control, bidirectional or zero-width characters); else InvalidEntry."""
    try:
        cleaned = clean_text(meaning.strip())
    except ValueError as error:
        raise InvalidEntry(f"meaning {error}", [FieldProblem("meaning", str(error))]) from None
    if not 1 <= len(cleaned) <= MEANING_MAX:
        msg = f"1 to {MEANING_MAX} characters"
        raise InvalidEntry(f"meaning must be {msg}: what the signature means, e.g. "
                           "'Approved as the primary analysis'", [FieldProblem("meaning", msg)])
    return cleaned


def report_file_name(content: StudyReportContent, signed_at: datetime) -> str:
    """e.g. study-report-cutoff-2026-06-30-signed-20261201T103244Z.pdf"""
    return (f"study-report-cutoff-{content.cutoff.isoformat()}-signed-"
            f"{signed_at.astimezone(UTC):%Y%m%dT%H%M%SZ}.pdf")
