"""Store URLs: one string selects SQLite or PostgreSQL for SQLAlchemy, Alembic and eventsourcing."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

CONNECT_TIMEOUT_SECONDS = 10
"""How long a PostgreSQL connection attempt may take before it fails (unreachable host)."""


class StoreURLError(ValueError):
    """The store URL names neither a SQLite file nor a PostgreSQL database."""


class StoreMissing(RuntimeError):
    """A read-only command found no SQLite file where the URL points (none is created)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no SQLite store at {path}")
        self.path = path


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed store URL (`sqlite:///path.db` or `postgresql://user@host:port/db`).

    `read_only` opens it for reading only: a SQLite file must already exist and is opened
    with `mode=ro`; PostgreSQL sessions default to read-only transactions."""

    raw: str
    kind: Literal["sqlite", "postgresql"]
    sqlite_path: str | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = dataclasses.field(default="", repr=False)
    dbname: str = ""
    read_only: bool = False

    @classmethod
    def parse(cls, raw: str) -> DatabaseURL:
        try:
            url = make_url(raw)
        except sa.exc.ArgumentError:
            raise StoreURLError(f"{raw!r} is not a store URL: use sqlite:///path.db or "
                                "postgresql://user@host:port/db") from None
        backend = url.get_backend_name()
        if backend == "sqlite":
            path = url.database or ":memory:"
            return cls(raw=raw, kind="sqlite", sqlite_path=path)
        if backend in ("postgresql", "postgres"):
            return cls(
                raw=raw,
                kind="postgresql",
                host=url.host or "127.0.0.1",
                port=url.port or 5432,
                user=url.username or "postgres",
                password=url.password or "",
                dbname=url.database or "postgres",
            )
        shown = url.render_as_string(hide_password=True)
        raise StoreURLError(
            f"unsupported store URL {shown!r}: use sqlite:///path.db or "
            "postgresql://user@host:port/db"
        )

    def for_reading(self) -> DatabaseURL:
        """The same store, opened read-only (see the class docstring)."""
        return dataclasses.replace(self, read_only=True)

    def describe(self) -> str:
        """The store for messages, without its password."""
        if self.kind == "sqlite":
            return f"SQLite file {self.resolved_sqlite_path()}"
        return f"PostgreSQL database {self.dbname!r} on {self.host}:{self.port} as {self.user!r}"

    def redacted(self) -> str:
        """The URL with its password masked."""
        return make_url(self.raw).render_as_string(hide_password=True)

    def resolved_sqlite_path(self) -> str:
        assert self.sqlite_path is not None
        if self.sqlite_path == ":memory:" or self.sqlite_path.startswith("file:"):
            return self.sqlite_path
        return str(Path(self.sqlite_path).resolve())

    def _sqlite_read_only_uri(self) -> str:
        """`file:` URI opening the existing file read-only (StoreMissing when there is none):
        SQLite never creates a file in this mode."""
        path = Path(self.resolved_sqlite_path())
        if not path.is_file():
            raise StoreMissing(str(path))
        return f"{path.as_uri()}?mode=ro"

    def sqlalchemy_url(self) -> sa.URL:
        if self.kind == "sqlite":
            return sa.URL.create("sqlite", database=self.sqlite_path)
        return sa.URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.dbname,
        )

    def eventsourcing_env(self, *, lock_timeout: int, pool_size: int) -> dict[str, str]:
        """The eventsourcing library's settings for this store; tables come from Alembic."""
        common = {
            "ORIGINATOR_ID_TYPE": "text",
            "CREATE_TABLE": "no",
            # Cached aggregates are fast-forwarded from the store on every read, so a cache
            # never serves stale state, even with several API processes writing.
            "AGGREGATE_CACHE_MAXSIZE": "2000",
            "AGGREGATE_CACHE_FASTFORWARD": "y",
        }
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            return common | {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": (self._sqlite_read_only_uri() if self.read_only
                                  else self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
                "APPLICATION_RECORDER_TOPIC": "infra.event_store:ChainedSQLiteApplicationRecorder",
            }
        return common | {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_LOCK_TIMEOUT": str(lock_timeout),
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
            "POSTGRES_PRE_PING": "y",
            "APPLICATION_RECORDER_TOPIC": "infra.event_store:ChainedPostgresApplicationRecorder",
        }


SQLITE_FILE_MODE = 0o600


def create_sqlite_file(path: str) -> None:
    """Create the SQLite file owner-only before SQLite opens it; SQLite gives its -wal and
    -shm files the database file's mode. An existing file is left as it is."""
    if path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))


def create_engine(database: DatabaseURL, *, pool_size: int = 8) -> Engine:
    """A SQLAlchemy engine for reads, migrations and read models (read-only when the URL
    says so: then a missing SQLite file raises StoreMissing instead of being created)."""
    if database.kind == "sqlite" and database.read_only:
        uri = database._sqlite_read_only_uri()
        engine = sa.create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False,
                                                         timeout=30))

        @sa.event.listens_for(engine, "connect")
        def _sqlite_read_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA query_only=1")
            cur.close()

        return engine
    if database.kind == "sqlite":
        assert database.sqlite_path is not None
        create_sqlite_file(database.sqlite_path)
        engine = sa.create_engine(
            database.sqlalchemy_url(), pool_size=pool_size, max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30}
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if database.read_only:
        connect_args["options"] = "-c default_transaction_read_only=on"
    return sa.create_engine(
        database.sqlalchemy_url(), pool_size=pool_size, max_overflow=pool_size,
        pool_pre_ping=True, connect_args=connect_args,
    )
