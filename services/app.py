"""The service one process serves: the API (services/api) and the web app over it
(services/web), on one FastAPI application."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from infra.settings import Settings
from services.api.app import create_app as create_api
from services.web.app import install_web


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """The API with the web app installed under /app (see `services.api.app.create_app`)."""
    app = create_api(settings, configure_logs=configure_logs)
    install_web(app)
    return app


def create_served_app(settings: Settings | None = None) -> FastAPI:
    """`create_app` for a process that does nothing but serve it (`trial-ledger serve`, each
    of its `--workers`): once the app is built, what the process holds is collected and then
    frozen out of the cyclic garbage collector's sight (`gc.freeze()`). Those objects (the
    imported libraries, the app, its routes) live as long as the process; left in the
    collector's oldest generation, every full collection walked them all, some 200 ms on a
    busy 1,000-participant trial (docs/adr/0016-freeze-the-served-process-heap.md)."""
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app
