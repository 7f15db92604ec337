"""The background worker of `trial-ledger serve`: in daemon threads beside the API, with its own
engine and ledger, the projector (projections/worker.py `follow`), the monitoring reactions
(services/monitoring/runner.py) and the checkpoint schedule. Reads never run any of them."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from infra.db import create_engine
from infra.ledger.checkpoints import checkpoint_periodically
from infra.settings import Settings
from projections.runner import Projector
from projections.worker import follow
from services.application import TrialLedger
from services.monitoring.runner import ReactionRunner
from services.monitoring.runner import follow as react


class BackgroundWorker:
    """The worker in daemon threads beside the API, with its own engine and ledger."""

    def __init__(self, settings: Settings, *, interval: float = 1.0, batch: int = 500,
                 checkpoint_every: float = 60.0) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database)
        self.ledger: Any = TrialLedger(settings, self.engine)
        self.stop_event = threading.Event()
        self._stopped = False
        self.threads = [threading.Thread(
            target=follow, name="projection-worker", daemon=True,
            args=(Projector(self.ledger, self.engine), self.stop_event),
            kwargs={"interval": interval, "batch": batch})]
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
