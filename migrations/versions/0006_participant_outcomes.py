"""The bitemporal outcome read model: each participant's outcome facts over recorded time.

A row per participant per event of theirs: the facts the endpoints and safety tables need
(domain/outcome_facts.py, stored as projections/outcome_documents.py says), the
participant's version and status, as they stood from the event's position (`from_position`)
until the participant's next event (`to_position`; `CURRENT` while there is none). A read as of any
recorded time selects the rows whose interval holds that time's position; a read at any
clinical cutoff folds each row's facts, or takes its stored `settled` summary when the cutoff
is past every dated entry (`settled_from`).

A projection added to a store that already holds events starts from the beginning: this
revision empties every read model and sets every tracked position back to 0, so the projector
(the worker inside `serve`, or `trial-ledger projections rebuild`) replays the log into all of
them together. Reads stay exact meanwhile: what a read model does not hold yet is folded from
the log. Nothing in the log changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from migrations import privileges

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "participant_outcomes"
OTHER_READ_MODELS = ("participant_summaries", "response_timelines", "audit_feed")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Text, primary_key=True),
        sa.Column("from_position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("to_position", sa.BigInteger, nullable=False),
        sa.Column("site_id", sa.Text, nullable=False),
        sa.Column("enrolled_on", sa.Text, nullable=False),
        sa.Column("settled_from", sa.Text, nullable=False),
        sa.Column("settled", sa.Text, nullable=False),
        sa.Column("vital", sa.Text, nullable=False),
        sa.Column("criteria", sa.Text, nullable=False),
        sa.Column("adverse_events", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    op.create_index(f"{TABLE}_interval_idx", TABLE,
                    ["generation", "to_position", "from_position"])
    bind = op.get_bind()
    for table in OTHER_READ_MODELS:
        bind.exec_driver_sql(f"DELETE FROM {table}")
    bind.exec_driver_sql("UPDATE projection_positions SET position = 0")
    generations = [row[0] for row in bind.exec_driver_sql(
        "SELECT DISTINCT generation FROM projection_positions").all()]
    for generation in generations:
        bind.execute(sa.text("INSERT INTO projection_positions (name, generation, position) "
                             "VALUES (:name, :generation, 0)"),
                     {"name": TABLE, "generation": generation})
    active = bind.exec_driver_sql("SELECT DISTINCT generation FROM projection_active").all()
    for (generation,) in active:
        bind.execute(sa.text("INSERT INTO projection_active (name, generation) "
                             "VALUES (:name, :generation)"),
                     {"name": TABLE, "generation": generation})
    if privileges.applies():
        privileges.ensure_runtime_role()
        privileges.grant_read_write((TABLE,))


def downgrade() -> None:
    op.execute(f"DELETE FROM projection_positions WHERE name = '{TABLE}'")
    op.execute(f"DELETE FROM projection_active WHERE name = '{TABLE}'")
    op.drop_index(f"{TABLE}_interval_idx", TABLE)
    op.drop_table(TABLE)
