"""Fresh stores for the benches: a temp SQLite file, or a new PostgreSQL database on a
loopback server, created for one measurement and removed after it (also on failure), and the
real `TrialLedger` opened over one.

A bench only ever creates and drops databases named `bench_<random>_<label>`, and only on
127.0.0.1: `require_loopback` refuses any other --pg-url before anything is created.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import log_stamped, random_text

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def require_loopback(url: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(url).host or "127.0.0.1"
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"--pg-url must name a server on 127.0.0.1 (got host {host!r})")


def pg_url_for(admin_url: str, dbname: str) -> str:
    """The admin URL pointed at another database of the same server."""
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql", database=dbname)
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_store(kind: str, pg_admin_url: str, label: str, workdir: Path
                ) -> Iterator[dict[str, str]]:
    """A new, empty store; yields {"url": ..., plus sqlite_path or dbname}. Removed after."""
    if kind == "sqlite":
        path = workdir / f"{label}.db"
        try:
            yield {"url": f"sqlite:///{path}", "sqlite_path": str(path)}
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
        return

    import psycopg
    from psycopg import sql

    dbname = f"bench_{secrets.token_hex(5)}_{label}"
    with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield {"url": pg_url_for(pg_admin_url, dbname), "dbname": dbname}
    finally:
        try:
            with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=10) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                              .format(sql.Identifier(dbname)))
        except Exception as error:  # noqa: BLE001 - cleanup must not hide the real outcome
            print(f"warning: could not drop database {dbname}: {error}", file=sys.stderr)


@contextlib.contextmanager
def fresh_store_url(kind: str, pg_admin_url: str, label: str, workdir: Path) -> Iterator[str]:
    """A new, empty store's URL (named `tt_<label>`, as bench.timetravel's); removed after."""
    with fresh_store(kind, pg_admin_url, f"tt_{label}", workdir) as store:
        log_stamped(f"using {store.get('dbname') or store['url']}")
        yield store["url"]


@dataclass
class Opened:
    """The real ledger over a store, its engine and the settings it was opened with."""

    ledger: Any
    engine: Any
    settings: Any = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ledger.close()
        self.engine.dispose()


def open_ledger(url: str, secrets_dir: Path | None = None) -> Opened:
    """Migrate the store and open `TrialLedger` over it, as the server does (a random JWT
    secret; the checkpoint key generated into `secrets_dir` when given)."""
    from infra.db import create_engine
    from infra.migrate import upgrade
    from infra.settings import Settings
    from services.application import TrialLedger

    upgrade(url)
    settings = Settings(database_url=url, secrets_dir=secrets_dir, jwt_secret=random_text(48))
    engine = create_engine(settings.database, pool_size=settings.pool_size)
    return Opened(TrialLedger(settings, engine), engine, settings)
