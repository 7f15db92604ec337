"""Fixtures the acceptance tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.db import create_engine
from infra.settings import Settings
from services.application import TrialLedger


@pytest.fixture
def ledger(settings: Settings) -> Iterator[TrialLedger]:
    """The service's own application layer (as the runtime role), for setup, the store
    queries of the checks and rebuilds, beside the server processes under test."""
    engine = create_engine(settings.database)
    app = TrialLedger(settings, engine)
    yield app
    app.close()
    engine.dispose()
