"""How a `trial-ledger` command opens the store: read-only (`reading`), migrated (`migrate`),
or migrated with its secrets made (`writing`); and the console its messages go to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from infra.db import create_engine
from infra.migrate import require_current_schema, upgrade_store
from infra.secrets import check_secret_files, ensure_secrets
from infra.settings import Settings, get_settings
from services.cli_errors import using_store

if TYPE_CHECKING:
    from services.application import TrialLedger

err = Console(stderr=True)
"""Messages to the operator (standard error); results go to standard output."""


def ledger_of(settings: Settings) -> TrialLedger:
    """The application over the store `settings` name (imported late: `--help` stays fast)."""
    from services.application import TrialLedger

    return TrialLedger(settings, create_engine(settings.database))


def migrate(settings: Settings) -> None:
    """Apply the migrations as the schema owner (commands that write)."""
    from infra.db import DatabaseURL

    variable = ("TRIAL_LEDGER_MIGRATION_DATABASE_URL" if settings.migration_database_url
                else "TRIAL_LEDGER_DATABASE_URL")
    using_store(variable, DatabaseURL.parse(settings.migration_url()))
    upgrade_store(settings)
    using_store("TRIAL_LEDGER_DATABASE_URL", settings.database)


def reading() -> Settings:
    """Settings for a read-only command, once the store is known to exist at the current
    schema: nothing is created or migrated (a missing SQLite file, an unreachable or
    unmigrated store is exit 3), and the store is opened read-only."""
    settings = get_settings().for_reading()
    using_store("TRIAL_LEDGER_DATABASE_URL", settings.database)
    engine = create_engine(settings.database)
    try:
        require_current_schema(engine)
    finally:
        engine.dispose()
    return settings


def refuse_exposed_secrets(settings: Settings) -> None:
    """Exit 2 with one line naming the file and the fix if others could read a secret."""
    check_secret_files(settings)  # InsecureSecretFile: one line and exit 2 (FailCleanly)


def writing() -> Settings:
    """Settings for a command that signs or records participants: an exposed secret is exit 2
    before anything else, then the store is migrated and missing secrets are created."""
    settings = get_settings()
    refuse_exposed_secrets(settings)
    migrate(settings)
    ensure_secrets(settings)
    return settings
