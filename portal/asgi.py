"""The portal as an ASGI app built from the environment's settings (for uvicorn workers)."""

from __future__ import annotations

from fastapi import FastAPI

from models.db import Database
from portal.app import create_app
from settings import get_settings


def app_from_environment() -> FastAPI:
    """``create_app`` over the configured database and the system clock."""
    settings = get_settings()
    return create_app(settings, Database(settings.resolved_database_url))
