"""Shared fixtures: real databases (SQLite file and PostgreSQL), migrated by Alembic once per session.

Every test is also marked with the tiers it pays for, from the fixtures it uses (``FIXTURE_TIERS``);
``make test-fast`` runs the rest, the domain tier (no database, no server, no browser). Under
pytest-xdist each worker is its own session with its own PostgreSQL database; the tests of the shared
Prefect API are ordered to go to one worker, so it is started once; the costliest tiers run first, so
that no long test starts last. A test whose tool (PostgreSQL, Chromium, poppler, axe-core) is missing
fails with the command that sets it up (tests/prerequisites.py), unless ENGAGE_ALLOW_SKIPS=1 outside CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from benchmarks.scratch_postgres import scratch_postgres
from models.base import Base
from models.db import Database
from tests.prerequisites import require

# Links are signed; without this, tests that use the default settings would create ./engage-data/secret.key.
os.environ.setdefault("ENGAGE_SECRET_KEY", "test-only-signing-key-0123456789abcdef0123456789abcdef")

# A test using one of these fixtures (directly or through another) pays for what it names.
FIXTURE_TIERS = {
    "sqlite_template": {"database"},
    "sqlite_db": {"database"},
    "db": {"database"},
    "postgres_url": {"database", "postgres"},
    "postgres_db": {"database", "postgres"},
    "prefect_api": {"prefect"},
    "mail_port": {"smtp"},
    "sink": {"smtp"},
}
# A test module using these helpers starts SMTP servers of its own.
SMTP_HELPERS = ("running_smtp_server", "running_mail_sink")
# The order tests start in: the costliest first, the domain tier last.
TIER_ORDER = ("prefect", "smtp", "browser", "postgres", "database")

POSTGRES_URL = os.environ.get("ENGAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_EMPTYING: dict[str, str] = {}  # per session database: the statement that empties it after each test


def tiers_of(item: pytest.Item) -> set[str]:
    """The tiers a test pays for, from its fixtures (``db`` counts as PostgreSQL in its postgres run)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db") == "postgres":
        fixtures.add("postgres_db")
    tiers = {tier for fixture, named in FIXTURE_TIERS.items() if fixture in fixtures for tier in named}
    module = getattr(item, "module", None)
    if any(hasattr(module, helper) for helper in SMTP_HELPERS):
        tiers.add("smtp")
    return tiers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tiers, and order them the same way on every worker.

    First the tests that run a Prefect stack of their own (the deployment test, the longest), then
    one other test, then the tests of the session's shared Prefect API, then the rest, costliest
    tiers first. pytest-xdist (``-n auto``, one test at a time after two each to start) then gives
    the first worker the deployment test and the second worker the shared-API tests one after the
    other, so only one worker pays for starting that API.
    """
    for item in items:
        for tier in tiers_of(item):
            item.add_marker(tier)

    def rank(item: pytest.Item) -> int:
        if "prefect_api" in getattr(item, "fixturenames", ()):
            return 1
        if item.get_closest_marker("prefect"):
            return 0
        return 2 + next((i for i, tier in enumerate(TIER_ORDER) if item.get_closest_marker(tier)), len(TIER_ORDER))

    items.sort(key=rank)
    own_stack = sum(rank(item) == 0 for item in items)
    rest = next((i for i, item in enumerate(items) if rank(item) > 1), None)
    if own_stack and rest is not None:
        items.insert(own_stack, items.pop(rest))


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return str(error).splitlines()[0]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies instead of migrating again."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    problem = _postgres_reachable()
    require(problem is None, f"PostgreSQL is not reachable at {POSTGRES_URL}: {problem}",
            "sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
    with scratch_postgres(POSTGRES_URL, prefix="engage_test") as url:
        database = Database(url)
        database.migrate()
        _EMPTYING[url] = _emptying_statement(database)
        database.dispose()
        yield url


def _emptying_statement(database: Database) -> str:
    """SQL that empties every table of the schema and starts every identity at 1 again, in one round trip.

    DELETE, children before parents: TRUNCATE gives each table and index new files, ~100 ms of server
    CPU for the few rows a test leaves, against ~16 ms for this.
    """
    import models  # noqa: F401 - every table registered on Base.metadata

    with database.engine.connect() as connection:
        sequences = connection.scalars(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1")).all()
    return "; ".join([f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
                     + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences])


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated SQLite database of this test's own."""
    path = tmp_path / "engage.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def postgres_db(_postgres_database: Database) -> Iterator[Database]:
    """The session's PostgreSQL database, emptied after the test."""
    yield _postgres_database
    with _postgres_database.engine.begin() as connection:
        connection.exec_driver_sql(_EMPTYING[_postgres_database.url])


@pytest.fixture(scope="session")
def _postgres_database(postgres_url: str) -> Iterator[Database]:
    """One engine for the session's tests: its pooled connections serve test after test."""
    database = Database(postgres_url, pool_size=20)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    """Where ``sink`` delivers (a Maildir, created on the first message)."""
    return tmp_path / "mail"


@pytest.fixture
def sink(maildir: Path) -> Iterator[int]:
    """A real SMTP server on localhost delivering into ``maildir``; its port."""
    from notifications.mail_sink import running_mail_sink

    with running_mail_sink(maildir) as port:
        yield port
