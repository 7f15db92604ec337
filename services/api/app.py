"""The API application: routers, error mapping, middleware, and the ledger on app.state (the
service a process serves, API and web app together, is services/app.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from infra.db import create_engine
from infra.logging import configure_logging
from infra.secrets import ensure_secrets
from infra.settings import Settings, get_settings
from projections.runner import Projector
from services.api.deps import KnownQueryOnly, SettingsDep
from services.api.docs_pages import install_docs
from services.api.errors import install_error_handlers
from services.api.middleware import RequestContext
from services.api.openapi import install_openapi
from services.api.routes import (
    accounts,
    analysis,
    audit,
    audit_review,
    auth,
    batch,
    curves,
    exports,
    ledger,
    participants,
    queries,
    schedule,
    sdv,
    signatures,
    study,
)
from services.api.study_schemas import HealthOut
from services.application import TrialLedger

DESCRIPTION = """Event-sourced, hash-chained audit ledger for the TACE + camrelizumab + apatinib
trial in advanced hepatocellular carcinoma. Every trial action is posted as an immutable event;
errors are `application/problem+json`."""


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """The app over `settings` (default: this process's); its secrets are created here if
    there are none yet (`ensure_secrets`), once, before any request is served."""
    settings = settings or get_settings()
    secrets = ensure_secrets(settings)
    if configure_logs:
        configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.ledger.close()
        app.state.engine.dispose()

    app = FastAPI(title="trial-ledger", version="1.0", description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.secrets = secrets
    app.state.engine = create_engine(settings.database, pool_size=settings.pool_size)
    app.state.ledger = TrialLedger(settings, app.state.engine)
    app.state.projector = Projector(app.state.ledger, app.state.engine)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    # Routers are matched in this order on every request: the busiest first.
    for module in (participants, batch, auth, accounts, signatures, study, audit, ledger,
                   analysis, curves, exports, sdv, audit_review, schedule, queries):
        app.include_router(module.router, dependencies=[KnownQueryOnly])
    install_docs(app)

    @app.get("/health", tags=["service"], response_model=HealthOut,
             dependencies=[KnownQueryOnly])
    def health(settings: SettingsDep) -> dict[str, Any]:
        """Liveness and which store is behind the API (no authentication)."""
        with app.state.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"status": "ok", "store": settings.database.kind}

    return app
