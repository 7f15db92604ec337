"""One settings object for the whole service (environment prefix TRIAL_LEDGER_)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.db import DatabaseURL

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "changethis", "password"})


class Settings(BaseSettings):
    """Where the store is, how long tokens live, how big a request may be."""

    model_config = SettingsConfigDict(env_prefix="TRIAL_LEDGER_", extra="ignore")

    database_url: str = "sqlite:///./trial-ledger.db"
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
        return DatabaseURL.parse(self.database_url)

    def resolved_secrets_dir(self) -> Path:
        """Secrets live beside the SQLite file, or in ./.trial-ledger for PostgreSQL."""
        if self.secrets_dir is not None:
            return self.secrets_dir
        if self.database.sqlite_path is not None and self.database.sqlite_path != ":memory:":
            return Path(self.database.sqlite_path).resolve().parent / ".trial-ledger"
        return Path(".trial-ledger").resolve()

    def token_secret(self) -> str:
        """The JWT signing secret: from the setting, else generated once into a 0600 file."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.resolved_secrets_dir() / "jwt.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()
