"""The service's secrets on disk: created by one explicit step, never as a side effect.

Settings only name where the secrets live. The server (`trial-ledger serve`, the app factory)
and the commands that write take `ensure_secrets` once at start: it refuses a secret file that
group or others could read or replace, generates the JWT secret and the checkpoint signing key
if there are none yet (0600, in a 0700 folder), and returns what the process signs with. A
read-only command never creates one: `read_token_secret` only reads a secret that exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from infra.ledger.checkpoints import signing_key
from infra.secret_files import check_secret_file, read_or_create_secret, read_secret_file
from infra.settings import Settings


@dataclass(frozen=True)
class Secrets:
    """What a running service signs with (the checkpoint key is read where it signs)."""

    token_secret: str = field(repr=False)


def check_secret_files(settings: Settings) -> None:
    """Refuse (InsecureSecretFile) an existing secret file others could read or replace."""
    paths = [settings.signing_key_path()]
    if not settings.jwt_secret:
        paths.append(settings.jwt_secret_path())
    for path in paths:
        if path.exists():
            check_secret_file(path)


def ensure_secrets(settings: Settings) -> Secrets:
    """The secrets, generated once into the secrets folder where none exist yet (InsecureSecretFile
    for an exposed file; SigningKeyError for an unusable signing key)."""
    check_secret_files(settings)
    token = settings.jwt_secret or read_or_create_secret(
        settings.jwt_secret_path(), lambda: secrets.token_urlsafe(48).encode()
    ).decode().strip()
    if settings.signing_key_file is None:
        signing_key(settings)  # generated here, once; a configured file is read when it signs
    return Secrets(token_secret=token)


def read_token_secret(settings: Settings) -> str | None:
    """The JWT secret if there is one (the setting, else the file), without creating it."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.jwt_secret_path()
    return read_secret_file(path).decode().strip() if path.exists() else None
