"""Apply Alembic migrations programmatically (`trial-ledger db upgrade`, `serve`, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

import migrations

if TYPE_CHECKING:
    from infra.settings import Settings

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(database_url: str, *, runtime_role: str | None = None) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    if runtime_role is not None:
        config.attributes["runtime_role"] = runtime_role
    return config


def upgrade(database_url: str, revision: str = "heads", *,
            runtime_role: str | None = None) -> None:
    """Bring the store's schema up to `revision` (default: every branch head), granting the
    PostgreSQL runtime role (default: the settings') what the service needs."""
    command.upgrade(alembic_config(database_url, runtime_role=runtime_role), revision)


def upgrade_store(settings: Settings) -> None:
    """Migrate as the schema owner (TRIAL_LEDGER_MIGRATION_DATABASE_URL, else DATABASE_URL)."""
    upgrade(settings.migration_url(), runtime_role=settings.runtime_role)
