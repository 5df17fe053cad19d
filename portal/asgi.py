"""The portal as an ASGI app built from the environment's settings (for uvicorn workers)."""

from __future__ import annotations

from fastapi import FastAPI

from models.db import Database
from portal.app import create_app
from settings import get_settings


def app_from_environment() -> FastAPI:
    """``create_app`` over the configured database and the system clock.

    The worker keeps a connection open for each request it runs at once (``portal_threads``), so that none is
    opened and closed per request (a PostgreSQL backend start each) and each keeps its prepared statements.
    """
    settings = get_settings()
    return create_app(settings, Database(settings.resolved_database_url, pool_size=settings.portal_threads))
