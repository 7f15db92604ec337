"""Alembic environment: the store URL comes from the caller, else from the settings
(TRIAL_LEDGER_MIGRATION_DATABASE_URL, else TRIAL_LEDGER_DATABASE_URL)."""

from __future__ import annotations

from alembic import context

from infra.db import create_engine
from infra.settings import get_settings

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or get_settings().migration_url()
    from infra.db import DatabaseURL

    engine = create_engine(DatabaseURL.parse(url))
    with engine.connect() as conn:
        context.configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
