"""Read models with tracked positions: participant summaries, response timelines, audit feed.

Rows carry a generation: a rebuild writes a new generation beside the live one and switches
over in one transaction, so readers never see a half-built projection.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_active",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
    )
    op.create_table(
        "projection_positions",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "participant_summaries",
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Text, primary_key=True),
        sa.Column("site_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("enrolled_on", sa.Text, nullable=False),
        sa.Column("treatment_start_on", sa.Text),
        sa.Column("last_known_alive_on", sa.Text),
        sa.Column("died_on", sa.Text),
        sa.Column("last_position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "response_timelines",
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Text, primary_key=True),
        sa.Column("criterion", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("assessed_on", sa.Text, nullable=False),
        sa.Column("sum_mm", sa.Float),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("backdated", sa.Boolean, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_feed",
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("stream_id", sa.Text, nullable=False),
        sa.Column("participant_id", sa.Text),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("occurred_on", sa.Text),
        sa.Column("recorded_at", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("site_id", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("changes", sa.Text, nullable=False),
    )
    op.create_index("audit_feed_participant_idx", "audit_feed",
                    ["generation", "participant_id", "position"])
    op.create_index("audit_feed_user_idx", "audit_feed", ["generation", "recorded_by", "position"])
    names = ("participant_summaries", "response_timelines", "audit_feed")
    op.bulk_insert(sa.table("projection_active", sa.column("name"), sa.column("generation")),
                   [{"name": name, "generation": 1} for name in names])
    op.bulk_insert(sa.table("projection_positions", sa.column("name"), sa.column("generation"),
                            sa.column("position")),
                   [{"name": name, "generation": 1, "position": 0} for name in names])


def downgrade() -> None:
    for table in ("audit_feed", "response_timelines", "participant_summaries",
                  "projection_positions", "projection_active"):
        op.drop_table(table)
