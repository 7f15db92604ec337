"""A data manager exports at database lock and, months later, an inspector checks the file.

`trial-ledger export odm` writes the file and records it; `trial-ledger export verify FILE`
finds that record by the file's SHA-256 and checks the chain (exit 0); the same file with
one byte changed matches no record (exit 1). An export as of an earlier moment holds only
what was recorded by then.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from services.application import TrialLedger
from tests import story
from tests.acceptance.test_cli_reports import record

CLI = [sys.executable, "-m", "services.cli"]
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=180, check=False)


@pytest.fixture
def env(settings: Any) -> dict[str, str]:
    return {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
            "TRIAL_LEDGER_SECRETS_DIR": str(settings.secrets_dir), "COLUMNS": "220",
            "TRIAL_LEDGER_JWT_SECRET": settings.jwt_secret,
            "PYTHONPATH": str(Path.cwd())}


def _audit_records(path: Path) -> int:
    return sum(1 for _ in etree.parse(str(path)).iter(f"{ODM}AuditRecord"))


def test_an_export_is_recorded_and_an_inspector_can_prove_it_later(
        ledger: TrialLedger, env: dict[str, str], tmp_path: Path) -> None:
    record(ledger, "HCC-01-001", story.enrollment())
    record(ledger, "HCC-01-001", story.camrelizumab("2026-01-12"))
    head = ledger.store.head()
    assert head is not None
    between = head.recorded_at  # the dose's recorded time: the AE comes after it
    record(ledger, "HCC-01-001", story.adverse_event("AE1", "2026-01-20"))
    positions = ledger.store.count()

    done = run(env, "export", "odm", "--out", "now.xml", "--reason", "database lock",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    data = (tmp_path / "now.xml").read_bytes()
    assert receipt["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert receipt["files"][0]["size"] == len(data)
    assert ledger.store.count() == positions + 1

    earlier = run(env, "export", "odm", "--as-of", between, "--out", "then.xml", cwd=tmp_path)
    assert earlier.returncode == 0, earlier.stderr
    assert _audit_records(tmp_path / "then.xml") < _audit_records(tmp_path / "now.xml")

    proved = run(env, "export", "verify", "now.xml", cwd=tmp_path)
    assert proved.returncode == 0, proved.stderr
    answer = json.loads(proved.stdout)
    assert answer["chain_ok"] is True
    assert [e["export_id"] for e in answer["exports"]] == [receipt["export_id"]]
    assert answer["exports"][0]["reason"] == "database lock"
    assert "the hash chain verifies" in proved.stderr

    altered = tmp_path / "altered.xml"
    altered.write_bytes(data.replace(b"HCC-01-001", b"HCC-01-002", 1))
    refused = run(env, "export", "verify", "altered.xml", cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "no export recorded" in refused.stderr
    assert ledger.store.count() == positions + 2  # verify wrote nothing


def test_export_refuses_bad_options_without_recording(
        ledger: TrialLedger, env: dict[str, str], tmp_path: Path) -> None:
    record(ledger, "HCC-01-001", story.enrollment())
    positions = ledger.store.count()
    bad_time = run(env, "export", "odm", "--as-of", "last tuesday", cwd=tmp_path)
    assert bad_time.returncode == 2 and "--as-of" in bad_time.stderr
    bad_cutoff = run(env, "export", "sdtm", "--cutoff", "someday", cwd=tmp_path)
    assert bad_cutoff.returncode == 2 and "--cutoff 'someday'" in bad_cutoff.stderr
    unknown = run(env, "export", "odm", "--participant", "HCC-09-999", cwd=tmp_path)
    assert unknown.returncode == 2 and "not exported: participant HCC-09-999" in unknown.stderr
    (tmp_path / "taken.xml").write_text("keep me")
    taken = run(env, "export", "odm", "--out", "taken.xml", cwd=tmp_path)
    assert taken.returncode == 2 and "exists" in taken.stderr
    assert (tmp_path / "taken.xml").read_text() == "keep me"
    assert ledger.store.count() == positions
