"""SQLAlchemy Core descriptions of the store's tables, for queries only (Alembic owns DDL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from infra.ledger.chain import format_recorded_at, parse_recorded_at


class RecordedAt(sa.types.TypeDecorator[str]):
    """`timestamptz` on PostgreSQL, canonical RFC 3339 text on SQLite; always text in Python."""

    impl = sa.String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.String(32))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        moment = parse_recorded_at(value) if isinstance(value, str) else value
        return moment if dialect.name == "postgresql" else format_recorded_at(moment)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return format_recorded_at(value)
        return str(value)


metadata = sa.MetaData()

stored_events = sa.Table(
    "stored_events",
    metadata,
    sa.Column("originator_id", sa.Text, primary_key=True),
    sa.Column("originator_version", sa.BigInteger, primary_key=True),
    sa.Column("topic", sa.Text),
    sa.Column("state", sa.LargeBinary),
)

ledger_chain = sa.Table(
    "ledger_chain",
    metadata,
    sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False, unique=True),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", RecordedAt, nullable=False),
    sa.Column("prev_hash", sa.LargeBinary, nullable=False),
    sa.Column("event_hash", sa.LargeBinary, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)


def event_position(dialect_name: str) -> sa.ColumnElement[int]:
    """The notification id of a stored event: PostgreSQL's column, SQLite's rowid."""
    if dialect_name == "postgresql":
        return sa.column("notification_id", sa.BigInteger)
    return sa.column("rowid", sa.BigInteger)
