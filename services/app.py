"""The service one process serves: the API (services/api) and the web app over it
(services/web), on one FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from infra.settings import Settings
from services.api.app import create_app as create_api
from services.web.app import install_web


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """The API with the web app installed under /app (see `services.api.app.create_app`)."""
    app = create_api(settings, configure_logs=configure_logs)
    install_web(app)
    return app
