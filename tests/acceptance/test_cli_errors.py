"""A scheduled `trial-ledger verify` must tell misconfiguration from tampering: every store or
configuration problem is one line on stderr naming the problem and the fix, with its own exit
code (2 configuration, 3 store unavailable; 1 stays for a failed verification), and read-only
commands never create a store, migrate one, or generate a secret."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from domain.events import CATALOGUE
from infra.db import DatabaseURL, create_engine
from infra.ledger.checkpoints import KEY_FILE_NAME, issue_checkpoint
from infra.migrate import expected_revisions, upgrade
from services.application import Actor, Submission, TrialLedger
from tests import story
from tests.acceptance.servers import free_port

CLI = [sys.executable, "-m", "services.cli"]
READ_ONLY = [["verify"], ["users", "list"], ["study", "cutoffs"],
             ["endpoints", "--criteria", "mRECIST", "--cutoff", "2026-06-30"]]
CONFIGURATION, STORE_UNAVAILABLE = 2, 3


def run(env: dict[str, str], *args: str, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAL_LEDGER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env | {f"TRIAL_LEDGER_{k.upper()}": v for k, v in settings.items()}


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_no_store_in_the_folder_is_exit_3_and_nothing_is_created(
        command: list[str], tmp_path: Path) -> None:
    result = run(clean_env(), *command, cwd=tmp_path)  # default: ./trial-ledger.db
    assert result.returncode == STORE_UNAVAILABLE
    line = one_line(result)
    assert f"no store at {tmp_path / 'trial-ledger.db'}" in line
    assert "trial-ledger db upgrade" in line
    assert list(tmp_path.iterdir()) == []  # no database, no -wal/-shm, no secrets folder


def test_a_missing_sqlite_file_named_by_the_url_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ledger.db"
    path.parent.mkdir()
    result = run(clean_env(database_url=f"sqlite:///{path}"), "verify", cwd=tmp_path)
    assert result.returncode == STORE_UNAVAILABLE
    assert f"no store at {path}" in one_line(result)
    assert list(path.parent.iterdir()) == []


def test_an_unmigrated_or_older_sqlite_store_is_exit_3_and_left_alone(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    result = run(clean_env(database_url=f"sqlite:///{empty}"), "verify", cwd=tmp_path)
    assert result.returncode == STORE_UNAVAILABLE
    assert "never migrated" in one_line(result) and "trial-ledger db upgrade" in result.stderr
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)

    older = tmp_path / "older.db"
    upgrade(f"sqlite:///{older}", "0003")
    result = run(clean_env(database_url=f"sqlite:///{older}"), "users", "list", cwd=tmp_path)
    assert result.returncode == STORE_UNAVAILABLE
    line = one_line(result)
    assert f"schema revision 0003, not {expected_revisions()[0]}" in line and "trial-ledger db upgrade" in line
    with sqlite3.connect(older) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)


@pytest.mark.parametrize("url", ["mysql://ops:hunter2-secret@db.example/ledger", "not a url"])
def test_a_bad_store_url_is_a_configuration_error(url: str, tmp_path: Path) -> None:
    result = run(clean_env(database_url=url), "verify", cwd=tmp_path)
    assert result.returncode == CONFIGURATION
    line = one_line(result)
    assert "TRIAL_LEDGER_DATABASE_URL" in line and "sqlite:///path.db" in line
    assert "hunter2-secret" not in line
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_setting_is_a_configuration_error(tmp_path: Path) -> None:
    result = run(clean_env(token_ttl_minutes="0"), "users", "list", cwd=tmp_path)
    assert result.returncode == CONFIGURATION
    assert "TRIAL_LEDGER_TOKEN_TTL_MINUTES" in one_line(result)


def test_a_usage_error_keeps_exit_2(tmp_path: Path) -> None:
    result = run(clean_env(), "verify", "--no-such-option", cwd=tmp_path)
    assert result.returncode == CONFIGURATION and "No such option" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_exit_3(tmp_path: Path) -> None:
    url = f"postgresql://postgres:pw-not-shown@127.0.0.1:{free_port()}/trial_ledger"
    result = run(clean_env(database_url=url), "verify", cwd=tmp_path)
    assert result.returncode == STORE_UNAVAILABLE
    line = one_line(result)
    assert line.startswith("cannot reach PostgreSQL database 'trial_ledger' on 127.0.0.1:")
    assert "Connection refused" in line and "start PostgreSQL" in line
    assert "pw-not-shown" not in line


def _with(server_url: str, **parts: Any) -> str:
    return make_url(server_url).set(drivername="postgresql", **parts).render_as_string(
        hide_password=False)


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(_with(server_url), autocommit=True)


@pytest.fixture
def empty_database(postgres_server_url: str) -> Iterator[str]:
    name = f"tl_empty_{uuid.uuid4().hex[:10]}"
    with _admin(postgres_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with _admin(postgres_server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_missing_postgresql_database_is_exit_3_and_not_created(
        postgres_server_url: str, tmp_path: Path) -> None:
    name = f"tl_missing_{uuid.uuid4().hex[:10]}"
    for command in READ_ONLY:
        result = run(clean_env(database_url=_with(postgres_server_url, database=name)),
                     *command, cwd=tmp_path)
        assert result.returncode == STORE_UNAVAILABLE, (command, result.stderr)
        line = one_line(result)
        assert "the database does not exist" in line and f"createdb {name}" in line
    with _admin(postgres_server_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is None
    assert list(tmp_path.iterdir()) == []


def test_a_refused_login_is_a_configuration_error(postgres_server_url: str,
                                                   tmp_path: Path) -> None:
    url = _with(postgres_server_url, username=f"nobody_{uuid.uuid4().hex[:8]}", password="x")
    result = run(clean_env(database_url=url), "users", "list", cwd=tmp_path)
    assert result.returncode == CONFIGURATION
    line = one_line(result)
    assert "the server refused the login" in line and "TRIAL_LEDGER_DATABASE_URL" in line


def test_an_unmigrated_postgresql_database_is_exit_3_and_not_migrated(
        postgres_server_url: str, empty_database: str, tmp_path: Path) -> None:
    url = _with(postgres_server_url, database=empty_database)
    for command in READ_ONLY:
        result = run(clean_env(database_url=url), *command, cwd=tmp_path)
        assert result.returncode == STORE_UNAVAILABLE, (command, result.stderr)
        assert "never migrated" in one_line(result)
        assert "trial-ledger db upgrade" in result.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_schema = 'public'").fetchone() == (0,)
    migrated = run(clean_env(database_url=url), "db", "upgrade", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert run(clean_env(database_url=url), "verify", cwd=tmp_path).returncode == 0


def _read_only_everything(tmp_path: Path) -> list[list[str]]:
    handed_over = tmp_path / "handed-over.csv"
    handed_over.write_text("id\n1\n")
    return [*READ_ONLY, ["export", "verify", str(handed_over)]]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_read_only_commands_leave_an_unmigrated_store_and_the_secrets_alone(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Every read-only command opens the store as it is: no table, no migration, no secret."""
    if kind == "sqlite":
        empty = tmp_path / "empty.db"
        sqlite3.connect(empty).close()
        url = f"sqlite:///{empty}"
    else:
        server = request.getfixturevalue("postgres_server_url")
        url = _with(server, database=request.getfixturevalue("empty_database"))
    secrets_dir = tmp_path / "secrets"
    env = clean_env(database_url=url, secrets_dir=str(secrets_dir))
    for command in _read_only_everything(tmp_path):
        result = run(env, *command, cwd=tmp_path)
        assert result.returncode == STORE_UNAVAILABLE, (command, result.stderr)
        assert "never migrated" in one_line(result) and "trial-ledger db upgrade" in result.stderr
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "empty.db") as conn:
            assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    else:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                "table_schema = 'public'").fetchone() == (0,)
    assert not secrets_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["handed-over.csv", *(["empty.db"] if kind == "sqlite" else [])])


# -- the signing key: missing or exposed is configuration, never tampering -------------------


@pytest.fixture
def checkpointed(settings: Any) -> Iterator[Any]:
    """A store holding one event and one signed checkpoint (key in settings.secrets_dir)."""
    engine = create_engine(DatabaseURL.parse(settings.migration_url()))
    ledger = TrialLedger(settings, engine)
    body = story.enrollment()
    ledger.record_participant_event("HCC-01-001", Submission(
        body["type"], date.fromisoformat(body["occurred_on"]),
        CATALOGUE[body["type"]].payload.model_validate(body["data"]), None, None),
        Actor("jdoe", "site_coordinator", "Jane Doe", ("S01",)))
    issue_checkpoint(engine, settings)
    ledger.close()
    yield settings
    engine.dispose()


def _env_for(settings: Any, secrets_dir: Path) -> dict[str, str]:
    return clean_env(database_url=settings.database_url, secrets_dir=str(secrets_dir))


def test_a_missing_signing_key_with_stored_checkpoints_is_configuration(
        checkpointed: Any, tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-the-secrets"
    result = run(_env_for(checkpointed, elsewhere), "verify", cwd=tmp_path)
    assert result.returncode == CONFIGURATION
    line = one_line(result)
    assert "holds 1 signed checkpoints but there is no signing key" in line
    assert "TRIAL_LEDGER_SECRETS_DIR" in line and KEY_FILE_NAME in line
    assert not elsewhere.exists()  # no key generated in its place

    missing_file = clean_env(database_url=checkpointed.database_url,
                             signing_key_file=str(tmp_path / "gone.pem"))
    result = run(missing_file, "verify", cwd=tmp_path)
    assert result.returncode == CONFIGURATION
    assert "TRIAL_LEDGER_SIGNING_KEY_FILE" in one_line(result)

    ok = run(_env_for(checkpointed, checkpointed.secrets_dir), "verify", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "1 signed checkpoints consistent" in ok.stderr


def test_a_signing_key_others_can_read_is_refused(checkpointed: Any, tmp_path: Path) -> None:
    key = checkpointed.secrets_dir / KEY_FILE_NAME
    key.chmod(0o644)
    result = run(_env_for(checkpointed, checkpointed.secrets_dir), "verify", cwd=tmp_path)
    assert result.returncode == CONFIGURATION
    line = one_line(result)
    assert str(key) in line and f"chmod 600 {key}" in line
    key.chmod(0o600)
    assert run(_env_for(checkpointed, checkpointed.secrets_dir), "verify",
               cwd=tmp_path).returncode == 0
