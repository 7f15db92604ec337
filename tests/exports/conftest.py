"""A seeded synthetic trial on each store, for the export tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.db import create_engine
from services.application import TrialLedger
from services.seed import seed_trial

PARTICIPANTS = 12
SEED = 20260630


@pytest.fixture
def ledger(settings) -> Iterator[TrialLedger]:  # type: ignore[no-untyped-def]
    """An empty ledger on the store under test (SQLite and PostgreSQL)."""
    engine = create_engine(settings.database)
    app = TrialLedger(settings, engine)
    yield app
    app.close()
    engine.dispose()


@pytest.fixture
def seeded(ledger: TrialLedger) -> TrialLedger:
    """The same small synthetic trial every time: enrollments, doses, TACE, scans read by
    both criteria, adverse events, corrections, voids, deaths and withdrawals."""
    seed_trial(ledger, participants=PARTICIPANTS, seed=SEED)
    return ledger
