"""Group commit: requests that arrive while a write transaction is running share the next one.

Leader and followers, no thread of its own: a request that finds no transaction running
writes the queue as it stands (its own request and any that arrived before it) in one
transaction; requests arriving meanwhile queue, and when that transaction ends one of them
leads the next with all of them. A request returns only when the transaction holding its
events has committed (or has failed, which fails every request in it: none of their events
is stored). Under no load a group is one request, so nothing waits for company.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from infra.ledger.group_write import PendingWrite

MAX_GROUP = 500
"""Requests per transaction at most (a batch route's events count one by one)."""


class GroupCommitter:
    """Serialises this process's group transactions; `write` appends one group and commits."""

    def __init__(self, write: Callable[[Sequence[PendingWrite]], None],
                 max_group: int = MAX_GROUP) -> None:
        self._write = write
        self._max_group = max_group
        self._queue: list[PendingWrite] = []
        self._writing = False
        self._changed = threading.Condition()
        self.groups = 0
        """Transactions written so far (the benchmark reports requests per transaction)."""
        self.written = 0

    def submit(self, *pending: PendingWrite) -> None:
        """Append `pending` in the next group transaction; returns once it has committed, with
        each request's `chain` or `conflict` set. Raises what the transaction raised."""
        with self._changed:
            self._queue.extend(pending)
            while not all(p.done for p in pending):
                if self._writing:
                    self._changed.wait()
                    continue
                self._lead()
        for p in pending:
            if p.error is not None:
                raise p.error

    def _lead(self) -> None:
        """Write the head of the queue (called holding the condition, which it releases
        while the transaction runs)."""
        group, self._queue = self._queue[:self._max_group], self._queue[self._max_group:]
        self._writing = True
        self._changed.release()
        error: BaseException | None = None
        try:
            self._write(group)
        except BaseException as exc:  # noqa: BLE001 - every request of the group gets it
            error = exc
        finally:
            self._changed.acquire()
            self._writing = False
            for p in group:
                p.error = error
                p.done = True
            self.groups += 1
            self.written += len(group)
            self._changed.notify_all()
