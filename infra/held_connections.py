"""A few store connections kept out of the pool for single read statements.

A point-in-time read is one statement of a fraction of a millisecond. Checking a connection
out of the SQLAlchemy pool for it costs about as much again on PostgreSQL: the pool pings the
server before lending a connection (`pool_pre_ping`), and lends it inside a transaction that
must be ended. These connections are borrowed from the pool once and kept, in autocommit (a
single statement sees one snapshot of the store anyway), and used by one reader at a time. A
statement that fails throws its connection away and is tried once more on a new one: that is
how a connection the server dropped is noticed, in place of the ping.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import Engine

KEEP = 4
"""Connections kept; readers beyond these at one moment borrow from the pool as usual."""


class HeldConnections:
    def __init__(self, engine: Engine, keep: int = KEEP) -> None:
        self.engine = engine
        self.keep = keep
        self.postgres = engine.dialect.name == "postgresql"
        self._free: list[Any] = []
        self._lock = threading.Lock()

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
                connection.invalidate()
                if attempt == 2:
                    raise
                continue
            self._give(connection)
            return rows
        raise AssertionError("unreachable")

    def _take(self) -> Any:
        with self._lock:
            if self._free:
                return self._free.pop()
        connection: Any = self.engine.raw_connection()
        if self.postgres:
            connection.dbapi_connection.autocommit = True
        return connection

    def _give(self, connection: Any) -> None:
        with self._lock:
            if len(self._free) < self.keep:
                self._free.append(connection)
                return
        if self.postgres:
            connection.dbapi_connection.autocommit = False
        connection.close()  # back to the pool

    def close(self) -> None:
        with self._lock:
            held, self._free = self._free, []
        for connection in held:
            if self.postgres:
                connection.dbapi_connection.autocommit = False
            connection.close()
