"""A seeded synthetic trial on each store, for the export tests."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.db import create_engine
from infra.settings import Settings
from services.application import TrialLedger
from services.seed import seed_trial
from tests.conftest import RUNTIME_ROLE, _admin, _with_database, runtime_url

PARTICIPANTS = 12
SEED = 20260630


@pytest.fixture
def ledger(settings) -> Iterator[TrialLedger]:  # type: ignore[no-untyped-def]
    """An empty ledger on the store under test (SQLite and PostgreSQL)."""
    engine = create_engine(settings.database)
    app = TrialLedger(settings, engine)
    yield app
    app.close()
    engine.dispose()


@pytest.fixture
def seeded(ledger: TrialLedger) -> TrialLedger:
    """The same small synthetic trial every time: enrollments, doses, TACE, scans read by
    both criteria, adverse events, corrections, voids, deaths and withdrawals."""
    seed_trial(ledger, participants=PARTICIPANTS, seed=SEED)
    return ledger


@pytest.fixture
def fresh(request: pytest.FixtureRequest, settings: Settings, store_kind: str,
          tmp_path: Path) -> Iterator[TrialLedger]:
    """A second empty store of the same kind as `settings`' (from the same migrated template)."""
    name = f"tl_{uuid.uuid4().hex[:12]}"
    if store_kind == "sqlite":
        path = tmp_path / "imported.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        owner = service = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("postgres_server_url")
        with _admin(server) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE '
                         f'"{request.getfixturevalue("postgres_template")}"')
        owner = _with_database(server, name)
        service = runtime_url(owner)
    second = Settings(database_url=service, migration_database_url=owner,
                      runtime_role=RUNTIME_ROLE, jwt_secret=settings.jwt_secret,
                      secrets_dir=tmp_path / "secrets-imported", max_body_bytes=64 * 1024)
    engine = create_engine(second.database)
    app = TrialLedger(second, engine)
    app.test_url = service  # type: ignore[attr-defined]  # for the command-line test
    yield app
    app.close()
    engine.dispose()
    if store_kind != "sqlite":
        with _admin(request.getfixturevalue("postgres_server_url")) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
