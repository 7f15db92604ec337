"""Indexes serving the audit trail's filters.

`GET /api/v1/audit-trail` pages in ledger-position order (`position > after ... ORDER BY
position LIMIT n`), so each filter gets an index led by the generation and the filtered
column and ending in the position: the rows of one site (`site_id`) or of one event type
(`event_type`) are then read in page order from the index, never sorted or scanned.

The other filters already have theirs: the participant, `audit_feed_stream_idx` (0005) with
the chain's `(stream_id, version)`; the user, `audit_feed_user_idx` (0003); the recorded-time
range, `ledger_chain_recorded_at_idx` (0001), which turns the range into a position range
(the chain's recorded times rise with its positions) read from the primary key.

Indexes only: no table is added, so no privilege changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    "audit_feed_site_idx": ["generation", "site_id", "position"],
    "audit_feed_type_idx": ["generation", "type", "position"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "audit_feed", columns)


def downgrade() -> None:
    # Derived from the read model's own columns: dropping them loses nothing.
    for name in INDEXES:
        op.drop_index(name, table_name="audit_feed")
