"""The projection worker: keeps every read model current and signs checkpoints on a schedule.

`trial-ledger project` runs it in the foreground; `trial-ledger serve` runs it in background
threads of the server process (unless `--no-worker`), because reads never run the projector
or issue checkpoints themselves.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from infra.ledger.checkpoints import checkpoint_periodically
from infra.logging import get_logger
from infra.settings import Settings
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


class BackgroundWorker:
    """The worker in daemon threads beside the API, with its own engine and ledger."""

    def __init__(self, settings: Settings, *, interval: float = 1.0, batch: int = 500,
                 checkpoint_every: float = 60.0) -> None:
        from infra.db import create_engine
        from services.application import TrialLedger

        self.settings = settings
        self.engine = create_engine(settings.database)
        self.ledger: Any = TrialLedger(settings, self.engine)
        self.stop_event = threading.Event()
        self._stopped = False
        self.threads = [threading.Thread(
            target=follow, name="projection-worker", daemon=True,
            args=(Projector(self.ledger, self.engine), self.stop_event),
            kwargs={"interval": interval, "batch": batch})]
        from services.monitoring.runner import ReactionRunner
        from services.monitoring.runner import follow as react

        # Edit checks and the other reactions (services/monitoring/policies.py) follow the log
        # beside the projector: what they record is in the ledger, never a read model.
        self.threads.append(threading.Thread(
            target=react, name="reactions-worker", daemon=True,
            args=(ReactionRunner(self.ledger, self.engine), self.stop_event),
            kwargs={"interval": interval}))
        if checkpoint_every > 0:
            self.threads.append(threading.Thread(
                target=checkpoint_periodically, name="checkpoint-worker", daemon=True,
                args=(self.engine, settings, self.stop_event, checkpoint_every)))

    def start(self) -> BackgroundWorker:
        for thread in self.threads:
            thread.start()
        atexit.register(self.stop)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
        self.ledger.close()
        self.engine.dispose()
