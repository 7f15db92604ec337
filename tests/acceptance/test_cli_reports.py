"""The read commands as a statistician and an account administrator use them: endpoints with
every interval's method, declared cutoffs, the account list; none of them writes, and no
command's help shows `<bool>` noise."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.events import CATALOGUE
from domain.ledger_event import Author
from infra.db import DatabaseURL, create_engine
from services.application import Actor, Submission, TrialLedger
from services.cli import app
from tests import story

CLI = [sys.executable, "-m", "services.cli"]
DM = Author("data.manager", "data_manager")
COORDINATOR = Actor("s01.coordinator", "site_coordinator", "Site Coordinator", ("S01",))


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=180, check=False)


@pytest.fixture
def env(settings: Any) -> dict[str, str]:
    """The CLI as the service runs it: the runtime role on PostgreSQL, a wide terminal."""
    return {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
            "TRIAL_LEDGER_MIGRATION_DATABASE_URL": settings.migration_url(),
            "TRIAL_LEDGER_RUNTIME_ROLE": settings.runtime_role,
            "TRIAL_LEDGER_SECRETS_DIR": str(settings.secrets_dir), "COLUMNS": "220"}


@pytest.fixture
def ledger(settings: Any) -> Iterator[TrialLedger]:
    engine = create_engine(DatabaseURL.parse(settings.migration_url()))
    app_ = TrialLedger(settings, engine)
    yield app_
    app_.close()
    engine.dispose()


def record(ledger: TrialLedger, participant_id: str, body: dict[str, Any]) -> None:
    ledger.record_participant_event(participant_id, Submission(
        body["type"], date.fromisoformat(body["occurred_on"]),
        CATALOGUE[body["type"]].payload.model_validate(body["data"]), None, None), COORDINATOR)


def rows(table: str) -> dict[str, list[str]]:
    """A printed rich table's body rows by their first cell."""
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            out[cells[0]] = cells[1:]
    return out


def test_endpoints_name_every_interval_method_and_match_the_json(
        ledger: TrialLedger, env: dict[str, str]) -> None:
    from services.seed import seed_trial

    seed_trial(ledger, participants=10, seed=7)
    ledger.declare_cutoff("final", date(2027, 6, 30), DM, "SAP section 9.1: final analysis")
    shown = run(env, "endpoints", "--criteria", "mRECIST", "--cutoff", "final")
    assert shown.returncode == 0, shown.stderr
    body = run(env, "endpoints", "--criteria", "mRECIST", "--cutoff", "final", "--json")
    report = json.loads(body.stdout)
    assert report["cutoff"] == "2027-06-30" and report["orr"]["responders"] > 0
    table = rows(shown.stdout)

    orr, dcr = report["orr"], report["dcr"]
    low, high = (f"{100 * b:.1f}%" for b in orr["ci95"])
    assert table["ORR (CR+PR)"] == [
        f"{orr['responders']}/{orr['n']} = {100 * orr['rate']:.1f}%",
        f"{low} to {high} (Clopper-Pearson)"]
    assert table["DCR (CR+PR+SD)"][1].endswith("(Clopper-Pearson)")
    assert dcr["count"] >= orr["responders"]
    dor = report["dor"]
    dor_row = table[f"DOR median (n {dor['n']}, events {dor['events']}, "
                    f"censored {dor['censored']})"]
    assert dor_row[1].endswith("(log-log, Brookmeyer-Crowley)")
    # every printed interval (a cell with "to") says its method; none is "NR to NR"
    intervals = [cells[1] for cells in table.values() if len(cells) > 1 and " to " in cells[1]]
    assert len(intervals) >= 9
    for interval in intervals:
        assert re.search(r"\((Clopper-Pearson|log-log, Brookmeyer-Crowley|log-log, "
                         r"Greenwood)\)$", interval), interval
        assert not interval.startswith("NR to NR")
    assert "Clopper-Pearson" in shown.stdout and "Brookmeyer-Crowley" in shown.stdout


def test_dor_with_no_responders_is_not_estimable(ledger: TrialLedger,
                                                 env: dict[str, str]) -> None:
    for body in (story.enrollment(), story.tace("2026-01-14"), story.camrelizumab("2026-01-15"),
                 story.follow_up("2026-03-01")):
        record(ledger, "HCC-01-001", body)
    shown = run(env, "endpoints", "--criteria", "RECIST 1.1", "--cutoff", "2026-06-30")
    assert shown.returncode == 0, shown.stderr
    table = rows(shown.stdout)
    assert table["DOR median"] == ["not estimable (no responders)", ""]
    assert table["ORR (CR+PR)"][0] == "not estimable (no evaluable participants)"
    assert "NR to NR" not in shown.stdout
    assert table["enrolled / treated / evaluable"][0] == "1 / 1 / 0"


def test_study_cutoffs_lists_each_declaration_with_who_when_and_why(
        ledger: TrialLedger, env: dict[str, str]) -> None:
    none_yet = run(env, "study", "cutoffs")
    assert none_yet.returncode == 0 and "no cutoff declared yet" in none_yet.stderr
    ledger.declare_cutoff("interim-1", date(2026, 6, 30), DM, "DSMB interim review")
    ledger.declare_cutoff("primary-analysis", date(2026, 12, 31), DM, "SAP section 9.1")
    shown = run(env, "study", "cutoffs")
    assert shown.returncode == 0, shown.stderr
    table = rows(shown.stdout)
    assert list(table)[-2:] == ["interim-1", "primary-analysis"]
    date_on, by, recorded_at, reason = table["interim-1"]
    assert (date_on, by, reason) == ("2026-06-30", "data.manager", "DSMB interim review")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", recorded_at)
    assert table["primary-analysis"][0] == "2026-12-31"
    assert table["primary-analysis"][2] >= recorded_at


def test_users_list_shows_every_account_and_its_state(env: dict[str, str]) -> None:
    password = "correct horse battery staple\n"
    for name, role, sites in (("jdoe", "site_coordinator", ["--site", "S01", "--site", "S02"]),
                              ("mroe", "auditor", []), ("old.admin", "admin", [])):
        added = run(env, "users", "add", name, "--role", role, *sites, "--full-name",
                     name.title(), "--password-stdin", stdin=password)
        assert added.returncode == 0, added.stderr
    assert run(env, "users", "lock", "mroe", "--reason", "left the CRO").returncode == 0
    assert run(env, "users", "deactivate", "old.admin", "--reason", "retired").returncode == 0
    shown = run(env, "users", "list")
    assert shown.returncode == 0, shown.stderr
    table = rows(shown.stdout)
    assert table["jdoe"] == ["Jdoe", "site_coordinator", "S01, S02", "yes", "no"]
    assert table["mroe"][:4] == ["Mroe", "auditor", "-", "yes"]
    assert table["mroe"][4].startswith("yes, by cli:")
    assert table["old.admin"][3] == "no"
    assert "password" not in shown.stdout.lower()


def test_read_commands_leave_the_store_as_it_was(ledger: TrialLedger, env: dict[str, str],
                                                 store_kind: str) -> None:
    if store_kind != "sqlite":
        pytest.skip("byte-for-byte comparison of the store file (SQLite); PostgreSQL runs "
                    "these commands in read-only transactions")
    record(ledger, "HCC-01-001", story.enrollment())
    ledger.close()
    path = Path(env["TRIAL_LEDGER_DATABASE_URL"].removeprefix("sqlite:///"))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for command in (["verify"], ["users", "list"], ["study", "cutoffs"],
                    ["endpoints", "--criteria", "mRECIST", "--cutoff", "2026-06-30"]):
        result = run(env, *command)
        assert result.returncode == 0, (command, result.stderr)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not Path(env["TRIAL_LEDGER_SECRETS_DIR"]).exists()  # no key or secret generated


COMMANDS = [[], ["db"], ["db", "upgrade"], ["users"], ["users", "add"], ["users", "list"],
            ["users", "lock"], ["users", "unlock"], ["users", "deactivate"], ["users", "grant"],
            ["study"], ["study", "cutoffs"], ["verify"], ["serve"], ["endpoints"], ["seed"],
            ["project"], ["rebuild"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_declares_flags_as_flags(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert not re.search(r"--\S+ / --no-", result.output), result.output
    assert "Usage:" in result.output


def test_every_group_lists_its_commands_and_the_exit_codes() -> None:
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}).output
    for name in ("verify", "endpoints", "users", "study", "db", "serve", "project"):
        assert re.search(rf"^\s+{name}\s", top, re.MULTILINE), name
    verify_help = CliRunner().invoke(app, ["verify", "--help"], env={"COLUMNS": "120"}).output
    for code in ("0  ok", "1  verification failed", "2  usage or configuration error",
                 "3  store unavailable"):
        assert code in verify_help and code in top
    users = CliRunner().invoke(app, ["users", "--help"]).output
    assert re.search(r"^\s+list\s", users, re.MULTILINE)
