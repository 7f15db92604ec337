"""PostgreSQL least privilege: the service's runtime role records and projects normally, and
cannot alter history even by the means the table owner has (triggers, replication role, DDL)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from infra.db import DatabaseURL, create_engine
from infra.event_store import WRITE_LOCK_KEY
from infra.ledger.checkpoints import issue_checkpoint
from infra.ledger.merkle_store import SYNC_LOCK_KEY
from infra.ledger.verify import verify_ledger
from infra.migrate import upgrade
from infra.settings import Settings
from projections.runner import Projector
from projections.state import rebuild, state_hashes
from services.application import TrialLedger
from tests import story
from tests.conftest import RUNTIME_ROLE, _admin, _with_database
from tests.integration.conftest import post, write_story

pytestmark = pytest.mark.postgres
ON_POSTGRES = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)

HISTORY = ("stored_events", "ledger_chain", "idempotency_keys", "merkle_nodes",
           "ledger_checkpoints")
READ_MODELS = ("projection_active", "projection_positions", "participant_summaries",
               "response_timelines", "audit_feed")


@pytest.fixture
def runtime_engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = create_engine(settings.database)
    yield engine
    engine.dispose()


@pytest.fixture
def runtime_ledger(settings: Settings, runtime_engine: sa.Engine) -> Iterator[TrialLedger]:
    ledger = TrialLedger(settings, runtime_engine)
    yield ledger
    ledger.close()


@ON_POSTGRES
def test_the_service_records_projects_and_checkpoints_as_the_runtime_role(
        runtime_ledger: TrialLedger, runtime_engine: sa.Engine, settings: Settings) -> None:
    with runtime_engine.connect() as conn:
        who = conn.execute(sa.text(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
    assert tuple(who) == (RUNTIME_ROLE, False)
    recorded = write_story(runtime_ledger)
    post(runtime_ledger, "HCC-01-003", story.enrollment(), idempotency_key="enrol-003")
    assert Projector(runtime_ledger, runtime_engine).catch_up() == len(recorded) + 1
    live = state_hashes(runtime_engine)
    rebuild(runtime_ledger, runtime_engine)
    assert {n: r["state_hash"] for n, r in state_hashes(runtime_engine).items()} == {
        n: r["state_hash"] for n, r in live.items()}
    assert issue_checkpoint(runtime_engine, settings).tree_size == len(recorded) + 1
    report = verify_ledger(runtime_ledger.store)
    assert report.ok and report.events == len(recorded) + 1


ATTEMPTS = [
    *(f"UPDATE {t} SET {c} = {c}" for t, c in (
        ("stored_events", "topic"), ("ledger_chain", "version"),
        ("idempotency_keys", "version"), ("merkle_nodes", "hash"),
        ("ledger_checkpoints", "body"))),
    *(f"DELETE FROM {t}" for t in HISTORY),
    *(f"TRUNCATE {t}" for t in HISTORY),
    "TRUNCATE projection_positions",
    "SET session_replication_role = replica",
    "ALTER TABLE stored_events DISABLE TRIGGER USER",
    "ALTER TABLE ledger_chain DISABLE TRIGGER ALL",
    "DROP TRIGGER stored_events_append_only ON stored_events",
    "DROP TRIGGER ledger_chain_no_truncate ON ledger_chain",
    "DROP TABLE ledger_chain",
    "DROP TABLE stored_events CASCADE",
    "ALTER TABLE stored_events RENAME TO old_events",
    "ALTER TABLE ledger_chain DROP CONSTRAINT ledger_chain_pkey",
    ("CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN NEW; END; $$"),
    "LOCK TABLE stored_events IN EXCLUSIVE MODE",
    "CREATE TABLE stored_events_copy AS SELECT * FROM stored_events",
]


@ON_POSTGRES
@pytest.mark.parametrize("statement", ATTEMPTS)
def test_the_runtime_role_cannot_alter_history(
        runtime_ledger: TrialLedger, runtime_engine: sa.Engine, settings: Settings,
        statement: str) -> None:
    write_story(runtime_ledger)
    post(runtime_ledger, "HCC-01-003", story.enrollment(), idempotency_key="enrol-003")
    issue_checkpoint(runtime_engine, settings)
    before = verify_ledger(runtime_ledger.store)
    with (pytest.raises(sa.exc.ProgrammingError,
                        match="permission denied|must be owner|must be superuser"),
          runtime_engine.begin() as conn):
        conn.execute(sa.text(statement))
    after = verify_ledger(runtime_ledger.store)
    assert after.ok and (after.events, after.head) == (before.events, before.head)


@ON_POSTGRES
def test_writers_serialise_on_the_advisory_write_lock(
        runtime_ledger: TrialLedger, store_url: str) -> None:
    assert WRITE_LOCK_KEY != SYNC_LOCK_KEY
    post(runtime_ledger, "HCC-01-001", story.enrollment())
    done = threading.Event()

    def write() -> None:
        post(runtime_ledger, "HCC-01-001", story.follow_up("2026-02-01"))
        done.set()

    with psycopg.connect(store_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(1.5)
        assert not done.is_set()  # the insert waits for the lock a transaction holds
        assert runtime_ledger.store.count() == 1
        holder.rollback()
    writer.join(timeout=30)
    assert done.is_set() and runtime_ledger.store.count() == 2


MIGRATE = ("import sys; from infra.migrate import upgrade; "
           "upgrade(sys.argv[1], runtime_role=sys.argv[2])")


def test_migrating_creates_a_missing_role_nologin_with_only_the_grants_it_needs(
        postgres_server_url: str) -> None:
    role = f"tl_role_{uuid.uuid4().hex[:10]}"
    databases = [f"tl_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with _admin(postgres_server_url) as admin:
        for name in databases:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # Two stores migrated at once on one cluster (two processes: Alembic is one per
        # process): one creates the role, the other finds it, both grant.
        migrations = [subprocess.Popen(
            [sys.executable, "-c", MIGRATE, _with_database(postgres_server_url, name), role],
            stderr=subprocess.PIPE, text=True) for name in databases]
        failures = [m.communicate(timeout=120)[1] for m in migrations]
        assert [m.returncode for m in migrations] == [0, 0], failures
        upgrade(_with_database(postgres_server_url, databases[0]), runtime_role=role)
        owner = create_engine(DatabaseURL.parse(
            _with_database(postgres_server_url, databases[0])))
        with owner.connect() as conn:
            flags = conn.execute(sa.text(
                "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
                "FROM pg_roles WHERE rolname = :r"), {"r": role}).one()
            assert tuple(flags) == (False, False, False, False, False)

            def may(table: str, privilege: str) -> bool:
                return bool(conn.execute(sa.text("SELECT has_table_privilege(:r, :t, :p)"),
                                         {"r": role, "t": table, "p": privilege}).scalar())

            for table in HISTORY:
                assert may(table, "SELECT") and may(table, "INSERT")
                for privilege in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"):
                    assert not may(table, privilege), (table, privilege)
            for table in READ_MODELS:
                assert all(may(table, p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE"))
                assert not may(table, "TRUNCATE") and not may(table, "TRIGGER")
            assert may("alembic_version", "SELECT") and not may("alembic_version", "UPDATE")
            assert conn.execute(sa.text(
                "SELECT has_sequence_privilege(:r, 'stored_events_notification_id_seq', "
                "'USAGE')"), {"r": role}).scalar()
            owners = conn.execute(sa.text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = :r"), {"r": role}).scalar()
            assert owners == 0
        owner.dispose()
    finally:
        with _admin(postgres_server_url) as admin:
            for name in databases:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f"DROP ROLE IF EXISTS {role}")
