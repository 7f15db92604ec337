"""One settings object for the whole service (environment prefix TRIAL_LEDGER_).

Settings are a plain value: building them reads the environment and nothing else. They name
where the secrets live, but never read or create them; that is the explicit step in
`infra.secrets`, which the server and the commands that need the secrets take once. A process
builds its settings once (`get_settings`); tests pass their own to what they build.
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.db import DatabaseURL

JWT_SECRET_FILE = "jwt.secret"
SIGNING_KEY_FILE = "checkpoint-signing-key.pem"
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "changethis", "password"})


class Settings(BaseSettings):
    """Where the store is, how long tokens live, how big a request may be."""

    model_config = SettingsConfigDict(env_prefix="TRIAL_LEDGER_", extra="ignore")

    database_url: str = "sqlite:///./trial-ledger.db"
    migration_database_url: str | None = Field(default=None, repr=False)
    """The schema owner's store URL for migrations; default: database_url."""
    runtime_role: str = Field(default="trial_ledger_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """PostgreSQL role the migrations grant the service's privileges to (created if missing)."""
    jwt_secret: str | None = Field(default=None, repr=False)
    secrets_dir: Path | None = None
    signing_key_file: Path | None = None
    """Ed25519 PKCS#8 PEM that signs checkpoints; default: generated once into secrets_dir."""
    ledger_origin: str = Field(default="trial-ledger", min_length=1, pattern=r"^[^\n]+$")
    """The log's name in every checkpoint body, e.g. trial-ledger/hcc-tace.example.org."""
    token_ttl_minutes: int = Field(default=15, ge=1, le=24 * 60)
    password_max_age_days: int | None = Field(default=None, ge=1)
    """Part 11 §11.300(b) password aging: older ones must be changed to sign in (None = off)."""
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    lock_timeout_seconds: int = Field(default=10, ge=1)
    pool_size: int = Field(default=8, ge=1)
    log_level: str = "INFO"
    lockout_minutes: int = Field(default=15, ge=1)
    """Part 11 §11.300(d): an automatic lockout after failed sign-ins lasts this long..."""
    lockout_max_minutes: int = Field(default=24 * 60, ge=1)
    """...doubled for each repeat since the last sign-in or unlock, up to this."""
    sign_in_window_seconds: int = Field(default=300, ge=1)
    """The sliding window of the sign-in throttle (per API process)."""
    sign_in_attempts_per_address: int = Field(default=30, ge=1)
    """Failed sign-ins one client address may make per window before 429."""
    sign_in_attempts_per_username: int = Field(default=10, ge=1)
    """Failed sign-ins one typed username may take per window before 429."""
    unknown_username_events_per_window: int = Field(default=60, ge=1)
    """Unknown-username failures recorded per window; the rest are counted in the next one."""
    record_access_refusals: bool = False
    """Record a refused POST on a participant the caller may not see (another site's, or an
    unknown id) as `AccessRefused` in `security:access`, for the audit-trail review. Off: every
    refused request appends nothing, and refusals are only `access_refused` log lines."""
    _read_only: bool = PrivateAttr(default=False)

    @field_validator("jwt_secret")
    @classmethod
    def refuse_placeholder_secret(cls, value: str | None) -> str | None:
        if value is not None and (value.lower() in PLACEHOLDER_SECRETS or len(value) < 32):
            raise ValueError(
                "TRIAL_LEDGER_JWT_SECRET must be a random string of at least 32 characters"
            )
        return value

    @cached_property
    def database(self) -> DatabaseURL:
        url = DatabaseURL.parse(self.database_url)
        return url.for_reading() if self._read_only else url

    def for_reading(self) -> Settings:
        """These settings with the store opened read-only (read-only CLI commands): a missing
        SQLite file is not created, PostgreSQL transactions are read-only."""
        copy = self.model_copy()
        copy._read_only = True
        copy.__dict__.pop("database", None)
        return copy

    def resolved_secrets_dir(self) -> Path:
        """Secrets live beside the SQLite file, or in ./.trial-ledger for PostgreSQL."""
        if self.secrets_dir is not None:
            return self.secrets_dir
        if self.database.sqlite_path is not None and self.database.sqlite_path != ":memory:":
            return Path(self.database.sqlite_path).resolve().parent / ".trial-ledger"
        return Path(".trial-ledger").resolve()

    def migration_url(self) -> str:
        """Where migrations run: the owner's URL, else the service's own."""
        return self.migration_database_url or self.database_url

    def jwt_secret_path(self) -> Path:
        """Where a generated JWT secret is kept (used only when jwt_secret is not set)."""
        return self.resolved_secrets_dir() / JWT_SECRET_FILE

    def signing_key_path(self) -> Path:
        """The checkpoint key: the configured file, else the one generated into secrets_dir."""
        return self.signing_key_file or self.resolved_secrets_dir() / SIGNING_KEY_FILE


@cache
def get_settings() -> Settings:
    """This process's settings, read from the environment once (the CLI and the server)."""
    return Settings()
