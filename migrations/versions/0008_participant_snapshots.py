"""Participant snapshots: derived rows a point-in-time read starts from instead of the first
event (docs/adr/0010-participant-snapshots.md).

One row per stream, kind (`aggregate`: the encoded Participant; `outcome`: the casebook's
derived outcome views, with `input_key`, the digest of what they were derived from), codec
(the code that made it) and version. `covers_hash` is the chain hash of that version and `mac`
an HMAC over every column under a key the database does not hold: a read uses a row only if
both check out, so an edited or stale row is skipped and the log folded instead.

`ledger_chain_stream_recorded_idx` (stream, version, recorded_at) answers "the stream's last
version recorded at or before T" from the index alone, reading back from the newest version:
without it each version's chain row is fetched to compare its time, one random page each in a
large store. History is not changed by an index.

The runtime role may read and add rows, never change or delete one (SELECT, INSERT). They are
not history: the owner may delete any of them, and reads fold the log where none is left.
Stores with events from before this revision start without snapshots; saves add them from
then on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations import privileges

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "participant_snapshots"
CHAIN_INDEX = "ledger_chain_stream_recorded_idx"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("stream_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("codec", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("covers_hash", sa.LargeBinary, nullable=False),
        sa.Column("input_key", sa.Text, nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("mac", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("stream_id", "kind", "codec", "version",
                                name=f"{TABLE}_pkey"),
        sa.CheckConstraint("kind IN ('aggregate', 'outcome')", name=f"{TABLE}_kind"),
        sa.CheckConstraint("version > 0", name=f"{TABLE}_version"),
    )
    op.create_index(CHAIN_INDEX, "ledger_chain", ["stream_id", "version", "recorded_at"])
    if privileges.applies():
        privileges.ensure_runtime_role()
        privileges.grant_append_only((TABLE,))


def downgrade() -> None:
    # Derived from the log: dropping them loses nothing a fold cannot give again.
    op.drop_index(CHAIN_INDEX, table_name="ledger_chain")
    op.drop_table(TABLE)
