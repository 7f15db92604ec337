"""Secrets on disk: generated once, owner-only from the first byte, refused when exposed.

A generated secret is written to a private temporary file (O_EXCL, mode 0600) and then
hard-linked to its name, which fails if the name exists: of two processes generating at once
the first link wins and both read the winner's secret. No file with the secret's name ever
exists with another mode or with partial content. Reading a secret refuses a file that group
or others may access, or that another user owns.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class InsecureSecretFile(RuntimeError):
    """A secret file others may read or replace; the message names the file and the fix."""


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) with the new leaf directory 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)


def check_secret_file(path: Path) -> None:
    """Refuse a secret that group or others may access, or that another user owns."""
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise InsecureSecretFile(
            f"refusing to use secret file {path}: it is owned by uid {info.st_uid}, not by "
            f"the service's user (uid {os.geteuid()}); fix: chown {os.geteuid()} {path}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise InsecureSecretFile(
            f"refusing to use secret file {path}: mode {mode:04o} lets group or others "
            f"access it; fix: chmod 600 {path}")


def read_secret_file(path: Path) -> bytes:
    """The file's bytes, after checking its owner and mode."""
    check_secret_file(path)
    return path.read_bytes()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def publish_secret_file(path: Path, content: bytes) -> bool:
    """Write `content` as `path` (0600) unless it exists; True if this call created it."""
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def read_or_create_secret(path: Path, generate: Callable[[], bytes]) -> bytes:
    """The secret stored at `path`, generating it once if there is none yet."""
    if not path.exists():
        publish_secret_file(path, generate())
    return read_secret_file(path)
