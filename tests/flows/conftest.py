"""One Prefect API (a temporary local server with its own database) per test session, i.e. per xdist worker."""

from __future__ import annotations

import os

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402

from models.db import Database  # noqa: E402
from settings import Settings  # noqa: E402
from states.clock import SimulatedClock  # noqa: E402
from tests.world import seeded  # noqa: E402

if TYPE_CHECKING:
    from flows.runtime import Runtime


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """The session's Prefect API; flows run against it (started once, ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def mail_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    from notifications.mail_sink import running_mail_sink

    maildir = tmp_path_factory.mktemp("mail") / "Maildir"
    with running_mail_sink(maildir) as port:
        yield port, maildir


@pytest.fixture
def runtime(sqlite_db: Database, tmp_path: Path, mail_port: tuple[int, Path]) -> Iterator[Runtime]:
    """The engine as flows see it: sample data loaded, a simulated clock, the session's mail sink."""
    from datetime import datetime, timezone

    from flows.runtime import Runtime, use_runtime  # Prefect is imported only by the tests that use it

    seeded(sqlite_db)
    settings = Settings(data_dir=tmp_path, database_url=sqlite_db.url, smtp_host="127.0.0.1", smtp_port=mail_port[0])
    clock = SimulatedClock(datetime(2024, 3, 1, 9, tzinfo=timezone.utc))
    with use_runtime(Runtime(settings, sqlite_db, clock)) as installed:
        yield installed
