"""Store URLs: one string selects SQLite or PostgreSQL for SQLAlchemy, Alembic and eventsourcing."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed store URL (`sqlite:///path.db` or `postgresql://user@host:port/db`)."""

    raw: str
    kind: Literal["sqlite", "postgresql"]
    sqlite_path: str | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    @classmethod
    def parse(cls, raw: str) -> DatabaseURL:
        url = make_url(raw)
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
        raise ValueError(
            f"unsupported store URL {raw!r}: use sqlite:///path.db or postgresql://user@host:port/db"
        )

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
                "SQLITE_DBNAME": self.sqlite_path,
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
    """A SQLAlchemy engine for reads, migrations and read models."""
    if database.kind == "sqlite":
        assert database.sqlite_path is not None
        create_sqlite_file(database.sqlite_path)
        engine = sa.create_engine(
            database.sqlalchemy_url(), connect_args={"check_same_thread": False, "timeout": 30}
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(
        database.sqlalchemy_url(), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )
