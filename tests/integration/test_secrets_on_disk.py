"""Secrets and the SQLite store on disk: created only by the explicit step (`ensure_secrets`),
never by building settings; owner-only from creation, one key when two processes generate at
once, refused when group or others could read them, never committed to git."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from infra.db import DatabaseURL, create_engine
from infra.ledger import checkpoint_format as fmt
from infra.ledger.checkpoints import KEY_FILE_NAME, SigningKeyError, signing_key
from infra.secret_files import InsecureSecretFile, publish_secret_file, read_or_create_secret
from infra.secrets import check_secret_files, ensure_secrets, read_token_secret
from infra.settings import Settings, get_settings

REPO = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask (0022), under which a plain create would be 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def sqlite_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(**{"database_url": f"sqlite:///{tmp_path / 'ledger.db'}",
                       "jwt_secret": None, **overrides})  # type: ignore[arg-type]


def test_generated_secrets_are_owner_only_in_a_private_directory(
        tmp_path: Path, permissive_umask: None) -> None:
    settings = sqlite_settings(tmp_path)
    secret = ensure_secrets(settings).token_secret
    key = signing_key(settings)
    directory = tmp_path / ".trial-ledger"
    assert settings.resolved_secrets_dir() == directory
    assert mode(directory) == 0o700
    assert mode(directory / "jwt.secret") == 0o600
    assert mode(directory / KEY_FILE_NAME) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == [KEY_FILE_NAME, "jwt.secret"]
    assert len(secret) >= 32 and ensure_secrets(settings).token_secret == secret
    assert read_token_secret(settings) == secret == (directory / "jwt.secret").read_text()
    assert fmt.public_key_raw(signing_key(settings)) == fmt.public_key_raw(key)


def test_the_sqlite_file_and_its_wal_and_shm_are_created_owner_only(
        tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "ledger.db"
    engine = create_engine(DatabaseURL.parse(f"sqlite:///{path}"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        journals = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() for p in journals)  # WAL mode: both exist while connected
        assert [mode(p) for p in (path, *journals)] == [0o600, 0o600, 0o600]
    engine.dispose()


def test_the_secrets_directory_is_ignored_by_git() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git working tree")
    for name in (".trial-ledger/jwt.secret", f".trial-ledger/{KEY_FILE_NAME}", "ledger.db"):
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=REPO,
                                 check=False)
        assert ignored.returncode == 0, f"{name} is not git-ignored"


def test_a_jwt_secret_readable_by_others_is_refused_naming_the_fix(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    path = settings.resolved_secrets_dir() / "jwt.secret"
    ensure_secrets(settings)
    path.chmod(0o644)
    with pytest.raises(InsecureSecretFile, match=rf"{path}.*chmod 600 {path}"):
        ensure_secrets(settings)
    with pytest.raises(InsecureSecretFile):
        check_secret_files(settings)
    with pytest.raises(InsecureSecretFile):
        read_token_secret(settings)
    path.chmod(0o600)
    check_secret_files(settings)


def test_a_signing_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ops-key.pem"
    fmt.save_private_key(fmt.generate_private_key(), path)
    settings = sqlite_settings(tmp_path, signing_key_file=path)
    signing_key(settings)
    path.chmod(0o640)
    with pytest.raises(SigningKeyError, match=rf"mode 0640 .*chmod 600 {path}"):
        signing_key(settings)
    path.chmod(0o600)
    if os.geteuid() == 0:  # only root can give a file away to test the owner check
        os.chown(path, 54321, -1)
        with pytest.raises(SigningKeyError, match=r"owned by uid 54321.*chown"):
            signing_key(settings)


def test_serve_refuses_to_start_with_an_exposed_secret(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    settings = sqlite_settings(tmp_path, secrets_dir=secrets_dir)
    signing_key(settings)
    key_file = secrets_dir / KEY_FILE_NAME
    key_file.chmod(0o644)
    env = {**os.environ, "TRIAL_LEDGER_DATABASE_URL": settings.database_url,
           "TRIAL_LEDGER_SECRETS_DIR": str(secrets_dir),
           "TRIAL_LEDGER_JWT_SECRET": secrets.token_urlsafe(40)}
    env.pop("TRIAL_LEDGER_SIGNING_KEY_FILE", None)
    started = subprocess.run([sys.executable, "-m", "services.cli", "serve", "--port", "0"],
                             env=env, capture_output=True, text=True, timeout=60, check=False)
    assert started.returncode == 2
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and f"chmod 600 {key_file}" in lines[0], started.stderr
    assert not (tmp_path / "ledger.db").exists()  # refused before touching the store


def test_the_first_writer_wins_and_a_late_generator_reads_its_secret(tmp_path: Path) -> None:
    path = tmp_path / "private" / "jwt.secret"

    def generate_while_another_process_wins() -> bytes:
        assert publish_secret_file(path, b"the winner's secret")
        return b"the loser's secret"

    assert read_or_create_secret(path, generate_while_another_process_wins) == (
        b"the winner's secret")
    assert not publish_secret_file(path, b"a third secret")
    assert path.read_bytes() == b"the winner's secret" and mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["jwt.secret"]  # no temporary left


GENERATE = """
import sys, time
from infra.ledger import checkpoint_format as fmt
from infra.ledger.checkpoints import signing_key
from infra.secrets import ensure_secrets
from infra.settings import Settings
settings = Settings(database_url="sqlite:///" + sys.argv[1] + "/ledger.db", jwt_secret=None)
while time.time() < float(sys.argv[2]):
    pass
secret = ensure_secrets(settings).token_secret
print(secret, fmt.public_key_raw(signing_key(settings)).hex())
"""


def test_processes_generating_at_once_end_with_one_shared_secret_and_key(
        tmp_path: Path) -> None:
    start = time.time() + 3.0  # every process past its imports, then all at once
    processes = [subprocess.Popen([sys.executable, "-c", GENERATE, str(tmp_path), str(start)],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(6)]
    results = [process.communicate(timeout=60) for process in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in results]
    answers = {out.strip() for out, _ in results}
    assert len(answers) == 1, answers
    secret, public_key = answers.pop().split()
    directory = tmp_path / ".trial-ledger"
    assert (directory / "jwt.secret").read_text() == secret
    assert fmt.public_key_raw(fmt.load_private_key(directory / KEY_FILE_NAME)).hex() == (
        public_key)
    assert sorted(p.name for p in directory.iterdir()) == [KEY_FILE_NAME, "jwt.secret"]


# -- settings are a value; the secrets step is explicit ---------------------------------------


@pytest.mark.parametrize("url", ["sqlite:///./trial-ledger.db",
                                 "postgresql://trial:pw@127.0.0.1:5432/trial_ledger"])
def test_building_settings_touches_no_file(url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("TRIAL_LEDGER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRIAL_LEDGER_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    settings = get_settings()
    assert get_settings() is settings  # read once per process
    reading = Settings().for_reading()
    for each in (settings, reading):
        assert each.jwt_secret_path() == tmp_path / ".trial-ledger" / "jwt.secret"
        assert each.signing_key_path() == tmp_path / ".trial-ledger" / KEY_FILE_NAME
        assert each.database.kind in {"sqlite", "postgresql"}
    assert read_token_secret(reading) is None
    check_secret_files(reading)
    assert list(tmp_path.iterdir()) == []  # no secrets folder, no key, no store


def test_settings_do_not_import_the_ledger() -> None:
    probe = ("import sys, infra.settings; "
             "print(sorted(m for m in sys.modules if m.startswith('infra.ledger')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_secrets_step_creates_both_owner_only_and_keeps_a_configured_secret(
        tmp_path: Path, permissive_umask: None) -> None:
    directory = tmp_path / "secrets"
    configured = secrets.token_urlsafe(40)
    settings = sqlite_settings(tmp_path, secrets_dir=directory, jwt_secret=configured)
    assert not directory.exists()
    assert ensure_secrets(settings).token_secret == configured
    assert mode(directory) == 0o700
    assert [p.name for p in directory.iterdir()] == [KEY_FILE_NAME]  # no jwt.secret written
    assert mode(directory / KEY_FILE_NAME) == 0o600
    key = (directory / KEY_FILE_NAME).read_bytes()
    ensure_secrets(settings)
    assert (directory / KEY_FILE_NAME).read_bytes() == key  # generated once


def test_a_configured_signing_key_is_not_replaced_by_the_secrets_step(tmp_path: Path) -> None:
    path = tmp_path / "ops-key.pem"
    fmt.save_private_key(fmt.generate_private_key(), path)
    settings = sqlite_settings(tmp_path, signing_key_file=path, secrets_dir=tmp_path / "s")
    ensure_secrets(settings)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["jwt.secret"]
