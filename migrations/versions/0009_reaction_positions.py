"""Where the reactions runner has read the log to (services/monitoring/runner.py).

One row per follower (`reactions`: the edit checks that open and close system queries, and
every other reaction in services/monitoring/policies.py): the position of the last event it
has reacted to. It is advanced by compare-and-set after each batch, so two runners never both
claim a batch; what a reaction writes is an event of the ledger, never a row here. Not
history: losing the row means reacting again from the start, which every reaction survives
(each is idempotent). A store with events from before this revision starts at 0, so the
checks run over the data already recorded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from migrations import privileges

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "reaction_positions"


def upgrade() -> None:
    table = op.create_table(
        TABLE,
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.CheckConstraint("position >= 0", name=f"{TABLE}_position"),
    )
    op.bulk_insert(table, [{"name": "reactions", "position": 0}])
    if privileges.applies():
        privileges.ensure_runtime_role()
        privileges.grant_read_write((TABLE,))


def downgrade() -> None:
    op.drop_table(TABLE)
