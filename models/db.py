"""Opening the engine's database and bringing its schema up to date."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.orm import Session, sessionmaker

from models.prebuilt import Prebuilt

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATED: set[str] = set()  # the URLs this process has brought to the newest revision
MASK = "***"
_PASSWORD_IN_URL = re.compile(r"(?P<user>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^@\s]*@")


def masked_url(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***`` (``postgresql+psycopg://postgres:***@host/db``).

    The one way a URL is shown: the CLI, the portal's start line, flows and logs never print a password.
    """
    return _PASSWORD_IN_URL.sub(lambda match: f"{match['user']}:{MASK}@", text)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _idle_since(_dbapi_connection: object, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


READ_ONLY = "engage_read_only"
"""The execution option of a request's read (``Database.request``), and the connection's note of its ``query_only``."""


def _sqlite_begin(conn: Connection) -> None:
    # SQLite's deferred transactions would let two writers read the same version and then
    # fail on upgrade with "database is locked"; taking the write lock at BEGIN serializes them.
    # A request's read takes no lock (deferred) and cannot write (query_only): it never upgrades.
    read_only = bool(conn.get_execution_options().get(READ_ONLY))
    if conn.info.get(READ_ONLY, False) != read_only:
        conn.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
        conn.info[READ_ONLY] = read_only
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


IDLE_PING_SECONDS = 30.0
"""A pooled PostgreSQL connection idle longer than this is pinged when it is checked out (see ``Database``)."""


class Database:
    """An engine and its session factory for one database URL.

    PostgreSQL connections are not pinged at every checkout (``pool_pre_ping`` costs one round trip per
    transaction, a sixth of a decision's): a connection is pinged only when it has been idle for
    ``IDLE_PING_SECONDS``, long enough for a server restart, a failover or a firewall's idle cut to have
    dropped it; a dead one is replaced before use. A connection dropped while in steady use fails its
    transaction once (nothing is written), and SQLAlchemy then discards every connection of the pool
    opened before the failure.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5) -> None:
        self.url = url
        is_sqlite = url.startswith("sqlite")
        if is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "isolation_level": None})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=2 * pool_size)
            event.listen(self.engine, "checkin", _idle_since)
            event.listen(self.engine, "checkout", self._ping_if_idle)
        self.pings = 0
        """How many idle connections were pinged at checkout."""
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        self._request: ContextVar[Session | None] = ContextVar("request", default=None)

    def _ping_if_idle(self, dbapi_connection: object, record: ConnectionPoolEntry, _proxy: object) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        self.pings += 1
        try:
            self.engine.dialect.do_ping(dbapi_connection)
        except self.engine.dialect.loaded_dbapi.Error as error:  # the pool opens another connection instead
            raise DisconnectionError("the pooled connection no longer answers") from error

    def __repr__(self) -> str:
        return f"Database({masked_url(self.url)!r})"

    @property
    def shown_url(self) -> str:
        """The URL as it may be printed: its password masked."""
        return masked_url(self.url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error.

        Inside ``request()``, the request's session: its transaction ends with the request.
        """
        if (session := self._request.get()) is not None:
            yield session
            return
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection inside one transaction (``engine.begin()``); inside ``request()``, the request's."""
        if (session := self._request.get()) is not None:
            yield session.connection()
            return
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def request(self) -> Iterator[None]:
        """One transaction for everything read within (a page): ``transaction()`` and ``connection()`` join it.

        Begun at the first statement, committed at the end, rolled back on any error. For reads only: on
        SQLite it is deferred (no write lock, unlike every other transaction) and refuses writes, so a
        page held open does not hold up writers. Held in a context variable: the thread (or task) that
        opened it, and what it runs, join it; nothing else does. A request within a request joins it too.
        """
        if self._request.get() is not None:
            yield
            return
        with self._reads() as session, session.begin():
            token = self._request.set(session)
            try:
                yield
            finally:
                self._request.reset(token)

    def migrate(self) -> None:
        """Upgrade the schema to the newest Alembic revision (once per URL in a process: Alembic loads
        every migration script again for each upgrade, ~35 ms even when there is nothing to do)."""
        if self.url in _MIGRATED:
            return
        from alembic import command

        command.upgrade(alembic_config(self.url), "head")
        _MIGRATED.add(self.url)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def alembic_config(url: str):  # noqa: ANN201 - alembic's Config, imported lazily
    """The Alembic configuration for ``url``, independent of the working directory."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


Rows = Sequence[tuple[Table, list[dict[str, Any]]]]
"""Rows to insert, table by table: each table's rows have the same keys (its columns)."""


def insert_rows(connection: Connection, rows: Rows) -> None:
    """Insert ``rows`` into their tables: on PostgreSQL in one round trip, whatever the tables (a data-modifying
    CTE per table over ``json_populate_recordset``), elsewhere one ``executemany`` per table.

    Values are what the columns take: text, numbers, booleans, ``None``, aware datetimes, dates, and the
    objects or lists of JSON columns. The tables must not refer to one another's new rows.
    """
    batches = [(table, table_rows) for table, table_rows in rows if table_rows]
    if connection.dialect.name != "postgresql":
        for table, table_rows in batches:
            connection.execute(insert(table), table_rows)
        return
    if batches:
        statement = _insert_all(tuple((table.name, tuple(table_rows[0])) for table, table_rows in batches))
        statement.run(connection, {f"w{i}": json.dumps(table_rows, default=json_value)
                                   for i, (_, table_rows) in enumerate(batches)})


def json_value(value: object) -> str:
    """``json.dumps``'s ``default`` for rows sent as JSON: dates and UTC moments as ISO text (a naive moment is refused)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("naive datetime given where a UTC timestamp is required")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


@cache
def _insert_all(shapes: tuple[tuple[str, tuple[str, ...]], ...]) -> Prebuilt:
    """The one statement that inserts rows of these tables and columns (``:w0``, ``:w1``... JSON arrays)."""
    parts = []
    for i, (table, columns) in enumerate(shapes):
        names = ", ".join(f'"{column}"' for column in columns)
        parts.append(f'w{i} AS (INSERT INTO "{table}" ({names}) SELECT {names} '
                     f'FROM json_populate_recordset(NULL::"{table}", CAST(:w{i} AS json)))')
    return Prebuilt(text(f"WITH {', '.join(parts)} SELECT 1"))
