from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from domain.events import CATALOGUE
from infra.db import DatabaseURL, create_engine
from services.application import Actor, Submission, TrialLedger
from services.records import RecordedEvent
from tests import story

COORDINATOR = Actor("jdoe", "site_coordinator", "Jane Doe", ("S01",))


def submission(body: dict[str, Any]) -> Submission:
    return Submission(body["type"], date.fromisoformat(body["occurred_on"]),
                      CATALOGUE[body["type"]].payload.model_validate(body["data"]),
                      body.get("reason"), body.get("expected_version"))


@pytest.fixture
def engine(settings):  # type: ignore[no-untyped-def]
    # The schema owner's engine: these tests also tamper with the store as a DBA could.
    engine = create_engine(DatabaseURL.parse(settings.migration_url()))
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(settings, engine) -> Iterator[TrialLedger]:  # type: ignore[no-untyped-def]
    app = TrialLedger(settings, engine)
    yield app
    app.close()


def post(ledger: TrialLedger, participant_id: str, body: dict[str, Any], **kw: Any
         ) -> RecordedEvent:
    recorded, _ = ledger.record_participant_event(participant_id, submission(body), COORDINATOR,
                                                  **kw)
    return recorded


def write_story(ledger: TrialLedger) -> list[RecordedEvent]:
    """Two participants, six events: enrollment, treatment, an AE and a correction."""
    a = post(ledger, "HCC-01-001", story.enrollment())
    b = post(ledger, "HCC-01-002", story.enrollment(on="2026-01-11"))
    dose = post(ledger, "HCC-01-001", story.camrelizumab("2026-01-12", dose_mg=20))
    tace = post(ledger, "HCC-01-002", story.tace("2026-01-13"))
    ae = post(ledger, "HCC-01-001", story.adverse_event("AE1", "2026-01-20"))
    fix = post(ledger, "HCC-01-001", story.correction(dose.event_id, "2026-01-12",
                                                      story.camrelizumab("x")["data"]))
    return [a, b, dose, tace, ae, fix]


def tamper(engine: sa.Engine, *statements: str,
           tables: tuple[str, ...] = ("stored_events", "ledger_chain")) -> None:
    """What a DBA with full rights could do: lift the append-only guards, then edit."""
    with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        for table in tables:
            if postgres:
                conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        for statement in statements:
            conn.execute(sa.text(statement))


def position_column(engine: sa.Engine) -> str:
    return "notification_id" if engine.dialect.name == "postgresql" else "rowid"
