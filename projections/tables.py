"""The read models' tables, for queries (Alembic revision 0003 creates them)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

projection_active = sa.Table(
    "projection_active", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
)

projection_positions = sa.Table(
    "projection_positions", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

participant_summaries = sa.Table(
    "participant_summaries", metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("participant_id", sa.Text, primary_key=True),
    sa.Column("site_id", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("enrolled_on", sa.Text),
    sa.Column("treatment_start_on", sa.Text),
    sa.Column("last_known_alive_on", sa.Text),
    sa.Column("died_on", sa.Text),
    sa.Column("last_position", sa.BigInteger),
)

response_timelines = sa.Table(
    "response_timelines", metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("participant_id", sa.Text, primary_key=True),
    sa.Column("criterion", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("assessed_on", sa.Text),
    sa.Column("sum_mm", sa.Float),
    sa.Column("response", sa.Text),
    sa.Column("backdated", sa.Boolean),
    sa.Column("last_position", sa.BigInteger),
)

audit_feed = sa.Table(
    "audit_feed", metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.Text),
    sa.Column("stream_id", sa.Text),
    sa.Column("participant_id", sa.Text),
    sa.Column("type", sa.Text),
    sa.Column("occurred_on", sa.Text),
    sa.Column("recorded_at", sa.Text),
    sa.Column("recorded_by", sa.Text),
    sa.Column("role", sa.Text),
    sa.Column("site_id", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("changes", sa.Text),
)

CURRENT = 2**62
"""`participant_outcomes.to_position` of a participant's latest row: true until their next event."""

participant_outcomes = sa.Table(
    "participant_outcomes", metadata,
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("participant_id", sa.Text, primary_key=True),
    sa.Column("from_position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("to_position", sa.BigInteger),
    sa.Column("site_id", sa.Text),
    sa.Column("enrolled_on", sa.Text),
    sa.Column("settled_from", sa.Text),
    sa.Column("settled", sa.Text),
    sa.Column("vital", sa.Text),
    sa.Column("criteria", sa.Text),
    sa.Column("adverse_events", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("status", sa.Text),
)
"""Bitemporal: each row holds a participant's outcome facts, version and status from
`from_position` (one of their events) until `to_position` (their next event; CURRENT while
there is none)."""

PROJECTION_TABLES = {
    "participant_summaries": participant_summaries,
    "response_timelines": response_timelines,
    "audit_feed": audit_feed,
    "participant_outcomes": participant_outcomes,
}
"""Each projection's name is its table's name; every table is keyed by generation first."""
