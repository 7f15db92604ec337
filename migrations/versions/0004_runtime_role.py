"""The service's least-privilege PostgreSQL role (TRIAL_LEDGER_RUNTIME_ROLE).

Created NOLOGIN if missing (an operator grants LOGIN and a password, or creates it first as a
LOGIN role); granted only what the running service needs. The tables' owner, who runs the
migrations, keeps everything else: trigger control, ALTER, DROP, TRUNCATE. SQLite has no
roles: nothing to do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

from migrations import privileges

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

HISTORY_TABLES = ("stored_events", "ledger_chain", "idempotency_keys", "merkle_nodes",
                  "ledger_checkpoints")
READ_MODEL_TABLES = ("projection_active", "projection_positions", "participant_summaries",
                     "response_timelines", "audit_feed")
SEQUENCES = ("stored_events_notification_id_seq",)


def upgrade() -> None:
    if not privileges.applies():
        return
    privileges.ensure_runtime_role()
    privileges.grant_append_only(HISTORY_TABLES)
    privileges.grant_read_write(READ_MODEL_TABLES)
    privileges.grant_read_only(("alembic_version",))  # `upgrade` at head is a read
    privileges.grant_sequences(SEQUENCES)


def downgrade() -> None:
    if not privileges.applies():
        return
    role = privileges.runtime_role()
    for table in (*HISTORY_TABLES, *READ_MODEL_TABLES, "alembic_version"):
        op.execute(f"REVOKE ALL ON TABLE {table} FROM {role}")
    for sequence in SEQUENCES:
        op.execute(f"REVOKE ALL ON SEQUENCE {sequence} FROM {role}")
