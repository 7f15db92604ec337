"""The signed study report, from a small trial read through the real API, on both stores: the
PDF shows the API's figures as given, carries the signature manifestation on its last page,
renders to the same bytes every time, and its hash is in the ledger before it is handed over;
a wrong password or a role that may not issue it records no report."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from domain.account import Account
from domain.errors import InvalidEntry
from domain.protocol import CRITERIA
from infra.settings import Settings
from services.access import AccessDenied
from services.application import Actor, TrialLedger
from services.authentication import AuthenticationFailed
from services.cli import app as cli
from services.exports.record import find_by_sha256, recorded_exports
from services.reports.content import StudyReportContent
from services.reports.issue import issue_study_report
from services.reports.pdf import SignatureManifest, render_study_report, root_hash_hex
from tests.api.conftest import PASSWORD, PASSWORD_HASH, Api
from tests.reports.trial import CUTOFF, issue_checkpoint, report_content, small_trial

MEANING = "Approved as the primary analysis"
DM = Actor("dm", "data_manager", "Dm", ())


def ledger_of(api: Api) -> TrialLedger:
    ledger: TrialLedger = api.client.app.state.ledger  # type: ignore[attr-defined]
    return ledger


def pages(pdf: bytes) -> list[str]:
    """The text of each page, as a PDF reader extracts it."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def failed_logins(api: Api, username: str) -> int:
    account = ledger_of(api).account(username)
    assert account is not None
    return account.failed_logins


def test_the_signed_report_shows_the_apis_figures_and_is_recorded_by_its_hash(
        api: Api, settings: Settings, store_url: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    small_trial(api)
    checkpoint = issue_checkpoint(api)
    content = report_content(api, checkpoint=checkpoint)
    ledger = ledger_of(api)
    before = ledger.store.count()

    issued = issue_study_report(ledger, DM, content, password=PASSWORD, meaning=MEANING,
                                request_id="req-report-1")

    assert issued.pdf.startswith(b"%PDF-")
    assert issued.sha256 == hashlib.sha256(issued.pdf).hexdigest()
    text = pages(issued.pdf)
    everything = "\n".join(text)
    for criterion in CRITERIA:
        orr = content.endpoints[criterion]["orr"]
        dcr = content.endpoints[criterion]["dcr"]
        assert f"{orr['responders']}/{orr['n']}" in everything
        assert f"[{orr['ci95'][0]!r}, {orr['ci95'][1]!r}]" in everything
        assert f"{orr['rate']!r} (" in everything
        assert f"[{dcr['ci95'][0]!r}, {dcr['ci95'][1]!r}]" in everything
        assert criterion in everything
    # The trial's hand count (tests/reports/trial.py): RECIST 2 responders, mRECIST 3.
    assert content.endpoints["RECIST 1.1"]["orr"]["responders"] == 2
    assert content.endpoints["mRECIST"]["orr"]["responders"] == 3
    root = root_hash_hex(checkpoint)
    assert len(root) == 64 and root in everything
    assert checkpoint["timestamp"] in everything
    assert "Aspartate aminotransferase increased" in everything
    for number, page in enumerate(text, start=1):
        assert f"trial-ledger study report \u2014 cutoff {CUTOFF}, as of latest" in page
        assert f"page {number} of {len(text)}" in page
    last = text[-1]
    signed_at = datetime.now(UTC)
    assert "Electronic signature" in last
    assert "Printed name" in last and "Dm" in last and MEANING in last
    assert f"{signed_at:%Y-%m-%d} " in last and " UTC" in last

    # Recorded, one event, before the bytes were handed back: its hash is the PDF's.
    assert ledger.store.count() == before + 1
    [view] = find_by_sha256(ledger, issued.sha256)
    assert view["export_id"] == issued.export_id
    assert (view["format"], view["exported_by"], view["role"]) == (
        "study-report", "dm", "data_manager")
    assert view["files"] == [{"name": issued.file_name, "sha256": issued.sha256,
                              "size": len(issued.pdf)}]
    scope = view["scope"]
    assert (scope["cutoff"], scope["as_of"], scope["sites"]) == (CUTOFF, None, None)
    recorded = scope["signature"]
    assert (recorded["full_name"], recorded["username"], recorded["meaning"]) == (
        "Dm", "dm", MEANING)

    # The recorded signature renders the same bytes again: the record reproduces the file.
    again = SignatureManifest(recorded["full_name"], recorded["username"],
                              datetime.fromisoformat(recorded["signed_at"]), recorded["meaning"])
    assert render_study_report(content, again) == issued.pdf
    assert render_study_report(content, replace(again, meaning="Reviewed")) != issued.pdf
    assert rendered_elsewhere(content, recorded, tmp_path) == issued.sha256

    # The API finds it by hash, with the signature in its scope.
    listed = read_exports(api, sha256=issued.sha256)
    assert [e["export_id"] for e in listed] == [issued.export_id]
    assert listed[0]["scope"]["signature"] == recorded

    # `trial-ledger export verify report.pdf` finds it, and the chain verifies.
    report = tmp_path / issued.file_name
    report.write_bytes(issued.pdf)
    monkeypatch.setenv("TRIAL_LEDGER_DATABASE_URL", store_url)
    monkeypatch.setenv("TRIAL_LEDGER_SECRETS_DIR", str(settings.secrets_dir))
    verified = CliRunner().invoke(cli, ["export", "verify", str(report)])
    assert verified.exit_code == 0, verified.output
    answer = json.loads(verified.stdout)
    assert answer["chain_ok"] is True
    assert [e["export_id"] for e in answer["exports"]] == [issued.export_id]
    altered = tmp_path / "altered.pdf"
    middle = len(issued.pdf) // 2
    altered.write_bytes(issued.pdf[:middle] + bytes([issued.pdf[middle] ^ 1])
                        + issued.pdf[middle + 1:])  # one bit of one byte
    refused = CliRunner().invoke(cli, ["export", "verify", str(altered)])
    assert refused.exit_code == 1


RENDER = """
import dataclasses, hashlib, json, sys
from datetime import date, datetime
from services.reports.content import StudyReportContent
from services.reports.pdf import SignatureManifest, render_study_report
given = json.loads(open(sys.argv[1]).read())
content = StudyReportContent(**{**given["content"],
                                "cutoff": date.fromisoformat(given["content"]["cutoff"])})
signed = given["signature"]
signature = SignatureManifest(signed["full_name"], signed["username"],
                              datetime.fromisoformat(signed["signed_at"]), signed["meaning"])
print(hashlib.sha256(render_study_report(content, signature)).hexdigest())
"""


def rendered_elsewhere(content: StudyReportContent, signature: dict[str, str], tmp_path: Path
                       ) -> str:
    """The SHA-256 of the same report rendered by another Python process (another hash seed,
    fonts registered afresh)."""
    given = tmp_path / "content.json"
    given.write_text(json.dumps({"content": {**asdict(content),
                                             "cutoff": content.cutoff.isoformat()},
                                 "signature": signature}))
    done = subprocess.run([sys.executable, "-c", RENDER, str(given)], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).parents[2],
                          env={**os.environ, "PYTHONHASHSEED": "12345"})
    return done.stdout.strip()


def read_exports(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/exports", user="auditor", **params)
    assert response.status_code == 200, response.text
    exports: list[dict[str, Any]] = response.json()["exports"]
    return exports


def test_a_wrong_password_or_a_role_that_may_not_issue_records_no_report(api: Api) -> None:
    small_trial(api)
    content = report_content(api)
    ledger = ledger_of(api)
    before = ledger.store.count()

    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        issue_study_report(ledger, DM, content, password="not the password", meaning=MEANING)
    assert recorded_exports(ledger) == []
    assert failed_logins(api, "dm") == 1  # counts toward the lockout, as a signature does
    assert ledger.store.count() == before + 1  # the failed check, nothing else

    refused = (Actor("coord1", "site_coordinator", "Coord1", ("S01",)),
               Actor("invest1", "investigator", "Invest1", ("S01",)),
               Actor("admin", "admin", "Admin", ()),
               Actor("monitor1", "monitor", "Monitor1", ("S01",)))  # a report of every site
    for actor in refused:
        with pytest.raises(AccessDenied):
            issue_study_report(ledger, actor, content, password=PASSWORD, meaning=MEANING)
        assert failed_logins(api, actor.username) == 0  # refused before the password check
    with pytest.raises(InvalidEntry, match="meaning"):
        issue_study_report(ledger, DM, content, password=PASSWORD, meaning="  ")
    assert ledger.store.count() == before + 1
    assert recorded_exports(ledger) == []

    # A monitor issues a report of their own site, read with their own account.
    own = report_content(api, "monitor1")
    assert own.scope["sites"] == ["S01"]
    monitor = Actor("monitor1", "monitor", "Monitor1", ("S01",))
    issued = issue_study_report(ledger, monitor, own, password=PASSWORD, meaning=MEANING)
    [view] = recorded_exports(ledger)
    assert (view["export_id"], view["scope"]["sites"]) == (issued.export_id, ["S01"])
    assert "S01" in pages(issued.pdf)[-1]
    # The right password after a wrong one clears the count, as a signature does.
    assert failed_logins(api, "dm") == 1
    issue_study_report(ledger, DM, content, password=PASSWORD, meaning=MEANING)
    assert failed_logins(api, "dm") == 0


HOSTILE_NAME = "Zoë <b>&amp; Łukasiewicz</b> & <font size=40>"
HOSTILE_MEANING = "Approved <i>as</i> the primary analysis & <br/> final"


def test_hostile_names_and_meanings_are_printed_not_obeyed(api: Api) -> None:
    ledger = ledger_of(api)
    ledger.create_account(Account.create(
        username="stat.one", full_name=HOSTILE_NAME, role="data_manager", sites=[],
        password_hash=PASSWORD_HASH, event_id="5e0c6a3e-7d5f-4b7e-9d1c-2a1f0e9b8c7d",
        actor="setup", actor_role="system"))
    small_trial(api)
    head = ledger.store.head()
    assert head is not None
    content = report_content(api, as_of=head.recorded_at)  # a recorded time, not the latest
    signer = Actor("stat.one", "data_manager", HOSTILE_NAME, ())

    issued = issue_study_report(ledger, signer, content, password=PASSWORD,
                                meaning=HOSTILE_MEANING)

    text = pages(issued.pdf)
    assert f"cutoff {CUTOFF}, as of {head.recorded_at}" in text[0]
    assert HOSTILE_NAME in text[-1]
    assert HOSTILE_MEANING in text[-1]
    [view] = recorded_exports(ledger)
    assert view["scope"]["as_of"] == head.recorded_at
    assert view["scope"]["signature"]["full_name"] == HOSTILE_NAME
    assert view["scope"]["signature"]["meaning"] == HOSTILE_MEANING


def test_content_that_contradicts_itself_or_a_plot_that_is_not_svg_is_refused(
        api: Api) -> None:
    small_trial(api)
    content = report_content(api)
    with pytest.raises(ValueError, match="cutoff"):
        replace(content, cutoff=content.cutoff.replace(day=2))
    with pytest.raises(ValueError, match="mRECIST"):
        StudyReportContent(**{**vars(content), "endpoints": {
            "RECIST 1.1": content.endpoints["mRECIST"]}})
    signature = SignatureManifest("Dm", "dm", datetime(2026, 11, 2, 9, tzinfo=UTC), MEANING)
    with pytest.raises(ValueError, match="not a readable SVG"):
        render_study_report(replace(content, plots={"Waterfall": "not svg at all"}), signature)
    assert recorded_exports(ledger_of(api)) == []
