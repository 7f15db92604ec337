"""The projection worker: keeps every read model current and signs checkpoints on a schedule.

`trial-ledger project` runs it in the foreground; `trial-ledger serve` runs it in background
threads of the server process (unless `--no-worker`; services/worker.py), because reads never
run the projector or issue checkpoints themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlalchemy as sa

from infra.logging import get_logger
from projections.runner import Projector

log = get_logger("trial_ledger.worker")


def follow(projector: Projector, stop: threading.Event, *, interval: float = 1.0,
           batch: int = 500, on_error: Callable[[Exception], None] | None = None) -> None:
    """Apply batches until `stop` is set; idle polls every `interval` seconds. A batch that
    fails on the store is logged and retried after `interval`."""
    while not stop.is_set():
        try:
            if projector.run_batch(batch).applied == 0:
                stop.wait(interval)
        except sa.exc.SQLAlchemyError as error:
            log.error("projection_batch_failed", error_type=type(error).__name__,
                      error=str(error))
            if on_error is not None:
                on_error(error)
            stop.wait(interval)
