"""Stores for the tests: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TRIAL_LEDGER_TEST_DATABASE_URL, else from testcontainers when a Docker
engine is reachable, else its tests are skipped with the reason shown; under CI a missing
PostgreSQL is a failure. Each test gets a fresh database cloned from a migrated template.
`store_url` is the schema owner's URL (migrations, deliberate tampering); on PostgreSQL the
`settings` fixture connects as the least-privilege runtime role, as a deployment does, so every
test through the service proves the role's grants suffice.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from infra.migrate import upgrade

STORES = ["sqlite", "postgresql"]
# Roles are cluster-wide: one LOGIN role serves every test database and every test session.
RUNTIME_ROLE = "tl_test_runtime"
RUNTIME_PASSWORD = "tl-test-runtime"  # ignored under trust auth; needed under password auth


def _docker_postgres() -> Iterator[str | None]:
    try:
        import docker

        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - any failure to reach an engine means no Docker here
        yield None
        return
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15", driver=None) as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("TRIAL_LEDGER_TEST_DATABASE_URL")
    if url:
        yield url
        return
    containers = _docker_postgres()
    url = next(containers)
    if url is None:
        reason = ("no PostgreSQL: set TRIAL_LEDGER_TEST_DATABASE_URL or start a Docker engine "
                  "for testcontainers")
        if os.environ.get("CI"):
            pytest.fail(reason + " (required under CI)")
        pytest.skip(reason)
    yield url
    next(containers, None)


def _admin(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
                           user=parsed.username or "postgres", password=parsed.password,
                           dbname=parsed.database or "postgres", autocommit=True)


def _with_database(url: str, dbname: str) -> str:
    return make_url(url).set(drivername="postgresql", database=dbname).render_as_string(
        hide_password=False)


def runtime_url(owner_url: str) -> str:
    """The same PostgreSQL database, connected as the test runtime role."""
    return make_url(owner_url).set(drivername="postgresql", username=RUNTIME_ROLE,
                                   password=RUNTIME_PASSWORD).render_as_string(
        hide_password=False)


def _ensure_runtime_role(server_url: str) -> None:
    with _admin(server_url) as conn:
        try:
            conn.execute(f"CREATE ROLE {RUNTIME_ROLE} LOGIN PASSWORD '{RUNTIME_PASSWORD}'")
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # made by an earlier or a concurrent session


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    name = f"tl_template_{os.getpid()}"
    _ensure_runtime_role(postgres_server_url)
    with _admin(postgres_server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_with_database(postgres_server_url, name), runtime_role=RUNTIME_ROLE)
    yield name
    with _admin(postgres_server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty store of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server_url")
    template = request.getfixturevalue("postgres_template")
    name = f"tl_{uuid.uuid4().hex[:12]}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _with_database(server, name)
    with _admin(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store_kind(store_url: str) -> str:
    return "sqlite" if store_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def service_url(store_url: str, store_kind: str) -> str:
    """The URL the service connects with: the runtime role on PostgreSQL."""
    return runtime_url(store_url) if store_kind == "postgresql" else store_url


@pytest.fixture
def settings(store_url: str, service_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from infra.settings import Settings

    return Settings(database_url=service_url, migration_database_url=store_url,
                    runtime_role=RUNTIME_ROLE, jwt_secret=secrets.token_urlsafe(40),
                    secrets_dir=tmp_path / "secrets", max_body_bytes=64 * 1024)


@pytest.fixture(autouse=True)
def fresh_process_settings() -> Iterator[None]:
    """Each test starts as a new process would: the settings a command or the app factory
    reads from the environment (`get_settings`) are read again, after the test's own
    environment is in place."""
    from infra.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
