"""A few store connections kept out of the pool for single read statements.

A point-in-time read is one statement of a fraction of a millisecond. Checking a connection
out of the SQLAlchemy pool for it costs about as much again on PostgreSQL: the pool pings the
server before lending a connection (`pool_pre_ping`), and lends it inside a transaction that
must be ended. These connections are borrowed from the pool once and kept, in autocommit (a
single statement sees one snapshot of the store anyway), and used by one reader at a time. A
statement that fails throws its connection away and is tried once more on a new one: that is
how a connection the server dropped is noticed, in place of the ping. At most `keep` are ever
borrowed, and a reader waits for one of them rather than for the pool: a connection given back
to this set never reaches the pool, so a reader waiting on the pool could wait for nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import Engine

KEEP = 4
"""Connections kept: at most this many are ever borrowed from the pool at once, so the pool
always has room for everyone else; a reader finding all of them busy waits for one (each
statement takes a fraction of a millisecond), never for the pool."""


class HeldConnections:
    def __init__(self, engine: Engine, keep: int = KEEP) -> None:
        self.engine = engine
        self.keep = keep
        self.postgres = engine.dialect.name == "postgresql"
        self._free: list[Any] = []
        self._borrowed = 0
        """Connections taken from the pool and not yet given back to it (free or in use)."""
        self._changed = threading.Condition()

    def fetch(self, statement: str, params: Any) -> list[tuple[Any, ...]]:
        """The statement's rows as the driver returns them."""
        for attempt in (1, 2):
            connection = self._take()
            try:
                cursor = connection.dbapi_connection.cursor()
                try:
                    cursor.execute(statement, params)
                    rows = list(cursor.fetchall())
                finally:
                    cursor.close()
            except self.engine.dialect.loaded_dbapi.Error:
                self._drop(connection)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._drop(connection)
                raise
            self._give(connection)
            return rows
        raise AssertionError("unreachable")

    def _take(self) -> Any:
        with self._changed:
            while not self._free and self._borrowed >= self.keep:
                self._changed.wait()
            if self._free:
                return self._free.pop()
            self._borrowed += 1
        try:
            connection: Any = self.engine.raw_connection()
            if self.postgres:
                connection.dbapi_connection.autocommit = True
        except BaseException:
            with self._changed:
                self._borrowed -= 1
                self._changed.notify()
            raise
        return connection

    def _give(self, connection: Any) -> None:
        with self._changed:
            self._free.append(connection)
            self._changed.notify()

    def _drop(self, connection: Any) -> None:
        """A connection that failed a statement is thrown away (how a connection the server
        dropped is noticed, in place of a ping); its place can be borrowed again."""
        try:
            connection.invalidate()
        finally:
            with self._changed:
                self._borrowed -= 1
                self._changed.notify()

    def close(self) -> None:
        with self._changed:
            held, self._free = self._free, []
            self._borrowed -= len(held)
        for connection in held:
            if self.postgres:
                connection.dbapi_connection.autocommit = False
            connection.close()
