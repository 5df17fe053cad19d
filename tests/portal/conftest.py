"""The portal over a real database (SQLite and PostgreSQL): the ``world`` fixture (see ``portal_world.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.db import Database
from portal.app import create_app
from settings import Settings
from tests.portal.portal_world import BASE_URL, PortalWorld
from tests.world import clock_at, seeded


@pytest.fixture
def world(db: Database, tmp_path: Path) -> Iterator[PortalWorld]:
    seeded(db)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="test-key-" + "x" * 40, public_base_url=BASE_URL)
    clock = clock_at(2024, 2, 1)
    with TestClient(create_app(settings, db, clock), base_url=BASE_URL) as client:
        yield PortalWorld(db, settings, clock, client)
