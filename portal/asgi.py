"""The portal as an ASGI app built from the environment's settings (for uvicorn workers)."""

from __future__ import annotations

from fastapi import FastAPI

from models.db import Database
from portal.app import create_app
from settings import get_settings

POOL_SIZE = 15
"""Connections a worker keeps open: as many as its requests use at once under load (20 clients), so that none is
opened and closed per request (a PostgreSQL backend start each) and each keeps its prepared statements."""


def app_from_environment() -> FastAPI:
    """``create_app`` over the configured database and the system clock."""
    settings = get_settings()
    return create_app(settings, Database(settings.resolved_database_url, pool_size=POOL_SIZE))
