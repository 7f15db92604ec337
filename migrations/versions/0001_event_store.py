"""Event store, hash chain and idempotency keys, append-only on both stores.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("stored_events", "ledger_chain", "idempotency_keys")

POSTGRES = [
    """
    CREATE TABLE stored_events (
        originator_id text NOT NULL,
        originator_version bigint NOT NULL,
        topic text NOT NULL,
        state bytea NOT NULL,
        notification_id bigserial,
        PRIMARY KEY (originator_id, originator_version)
    )
    """,
    "CREATE UNIQUE INDEX stored_events_notification_id_idx ON stored_events (notification_id)",
    # The composite type the eventsourcing PostgreSQL recorder inserts through (unnest).
    """
    CREATE TYPE stored_event_text AS (
        originator_id text, originator_version bigint, topic text, state bytea
    )
    """,
    """
    CREATE TABLE ledger_chain (
        leaf_index bigint PRIMARY KEY CHECK (leaf_index >= 0),
        position bigint NOT NULL UNIQUE,
        stream_id text NOT NULL,
        version bigint NOT NULL,
        recorded_at timestamptz NOT NULL,
        prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
        event_hash bytea NOT NULL CHECK (length(event_hash) = 32),
        UNIQUE (stream_id, version)
    )
    """,
    "CREATE INDEX ledger_chain_recorded_at_idx ON ledger_chain (recorded_at)",
    """
    CREATE TABLE idempotency_keys (
        username text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        stream_id text NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (username, key)
    )
    """,
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,
]

SQLITE = [
    """
    CREATE TABLE stored_events (
        originator_id TEXT NOT NULL,
        originator_version INTEGER NOT NULL,
        topic TEXT NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (originator_id, originator_version)
    )
    """,
    """
    CREATE TABLE ledger_chain (
        leaf_index INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
        position INTEGER NOT NULL UNIQUE,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        recorded_at TEXT NOT NULL,
        prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
        event_hash BLOB NOT NULL CHECK (length(event_hash) = 32),
        UNIQUE (stream_id, version)
    )
    """,
    "CREATE INDEX ledger_chain_recorded_at_idx ON ledger_chain (recorded_at)",
    """
    CREATE TABLE idempotency_keys (
        username TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (username, key)
    )
    """,
]


def _postgres_guards(table: str) -> list[str]:
    return [
        (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"),
        (f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"),
    ]


def _sqlite_guards(table: str) -> list[str]:
    # SQLite has no TRUNCATE: an unqualified DELETE fires the row trigger too.
    return [
        (f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: UPDATE refused'); END"),
        (f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: DELETE refused'); END"),
    ]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    statements = list(POSTGRES if postgres else SQLITE)
    guard = _postgres_guards if postgres else _sqlite_guards
    for table in APPEND_ONLY_TABLES:
        statements += guard(table)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("the event store is never downgraded: its history is the trial's record")
