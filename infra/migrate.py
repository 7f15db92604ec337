"""Apply Alembic migrations programmatically (`trial-ledger db upgrade`, `serve`, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import migrations

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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


class SchemaNotCurrent(RuntimeError):
    """The store's schema is not the one this version of the code expects."""

    def __init__(self, current: tuple[str, ...], expected: tuple[str, ...]) -> None:
        self.current, self.expected = current, expected
        want = ", ".join(expected)
        if not current:
            message = "has no trial-ledger schema (it was never migrated)"
        elif set(current) - set(_known_revisions()):
            message = (f"is at schema revision {', '.join(current)}, which this version of "
                       "trial-ledger does not know (the store was migrated by a newer one)")
        else:
            message = f"is at schema revision {', '.join(current)}, not {want}"
        super().__init__(message)


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def _known_revisions() -> list[str]:
    return [revision.revision for revision in _script().walk_revisions()]


def expected_revisions() -> tuple[str, ...]:
    return tuple(sorted(_script().get_heads()))


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions recorded in the store (none when it was never migrated); a read only."""
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def require_current_schema(engine: Engine) -> None:
    """SchemaNotCurrent unless the store is at every head revision; never migrates."""
    current, expected = current_revisions(engine), expected_revisions()
    if current != expected:
        raise SchemaNotCurrent(current, expected)
