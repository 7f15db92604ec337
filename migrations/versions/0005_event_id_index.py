"""The event id index (event id -> ledger position), and the audit feed indexed by stream.

`ledger_event_ids` lets an inclusion proof find its event by one primary-key probe instead of
a scan of every stored event's bytes. It is history like the chain: append-only (the same
triggers), written by the recorder in the insert transaction, granted SELECT and INSERT only
to the runtime role. Events stored before this revision are back-filled here from their state
bytes, in position order (the first event carrying an id keeps it, as the scan did).

`audit_feed_stream_idx` serves the audit trail of one participant, which selects read-model
rows by the stream the chain names (or the row's own, where a chain row is missing).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

import json

from alembic import op

from migrations import privileges

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "ledger_event_ids"
BACKFILL_BATCH = 5000

POSTGRES = [
    f"""
    CREATE TABLE {TABLE} (
        event_id text PRIMARY KEY,
        position bigint NOT NULL CHECK (position > 0)
    )
    """,
    # ledger_refuse_change() comes from revision 0001.
    (f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
     "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"),
    (f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
     "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"),
]

SQLITE = [
    f"""
    CREATE TABLE {TABLE} (
        event_id TEXT PRIMARY KEY,
        position INTEGER NOT NULL CHECK (position > 0)
    ) WITHOUT ROWID
    """,
    (f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
     f"BEGIN SELECT RAISE(ABORT, 'table {TABLE} is append-only: UPDATE refused'); END"),
    (f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
     f"BEGIN SELECT RAISE(ABORT, 'table {TABLE} is append-only: DELETE refused'); END"),
]

AUDIT_FEED_STREAM_INDEX = ("CREATE INDEX audit_feed_stream_idx ON audit_feed "
                           "(generation, stream_id, position)")


def _event_id(state: object) -> str | None:
    """The `event_id` in a stored event's JSON state (None: none, or not JSON)."""
    if state is None:
        return None
    try:
        raw = state.encode() if isinstance(state, str) else bytes(state)  # type: ignore[call-overload]
        decoded = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("event_id"), str):
        return None
    return str(decoded["event_id"])


def _backfill(postgres: bool) -> None:
    bind = op.get_bind()
    col, mark = ("notification_id", "%s") if postgres else ("rowid", "?")
    select = (f"SELECT {col}, state FROM stored_events WHERE {col} > {mark} "
              f"ORDER BY {col} LIMIT {mark}")
    insert = (f"INSERT INTO {TABLE} (event_id, position) VALUES ({mark}, {mark}) "
              "ON CONFLICT DO NOTHING")
    after = 0
    while True:
        rows = bind.exec_driver_sql(select, (after, BACKFILL_BATCH)).all()
        if not rows:
            return
        found = [(event_id, int(position)) for position, state in rows
                 if (event_id := _event_id(state)) is not None]
        if found:
            bind.exec_driver_sql(insert, found)
        after = int(rows[-1][0])


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES if postgres else SQLITE:
        op.execute(statement)
    _backfill(postgres)
    op.execute(AUDIT_FEED_STREAM_INDEX)
    if privileges.applies():
        privileges.ensure_runtime_role()
        privileges.grant_append_only((TABLE,))


def downgrade() -> None:
    # A derived index of the stored events: dropping it loses nothing the log does not hold.
    op.execute("DROP INDEX audit_feed_stream_idx")
    op.execute(f"DROP TABLE {TABLE}")
