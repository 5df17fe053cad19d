"""Statements of the hot paths, compiled once and sent on PostgreSQL straight through psycopg.

SQLAlchemy's execution of a cached Core statement costs about twice psycopg's own work (the execution
context, the result's metadata from the cursor's description, the row objects). A ``Prebuilt`` statement is
compiled once; on PostgreSQL each call expands its parameters (``construct_expanded_state``, with the types'
bind processors), sends them on the connection's psycopg connection in its open transaction, prepared on that
connection from its first use (psycopg would wait for the fifth), and builds plain named rows with the columns'
result processors. A statement whose text never changes is written once with PostgreSQL's own ``$1``
placeholders and sent through a ``psycopg.RawCursor``, so psycopg does not parse its text at each call (it
caches that parse only for statements under 4 KB). The engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners still see
every statement; a driver error is raised as SQLAlchemy's (``IntegrityError``...; a lost connection is
invalidated). Elsewhere (SQLite) it is ``connection.execute``. The rows answer as Core's do: by attribute and
by position.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Executable, TextClause
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

Params = Mapping[str, Any]
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")  # psycopg's named placeholders, and an escaped percent sign


def _tuple(*values: Any) -> tuple[Any, ...]:
    return values


class _Compiled:
    """A statement compiled for PostgreSQL: its compiled form, row class and result processors."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        self.compiled = statement.compile(dialect=dialect)
        self.processors = dict(self.compiled._bind_processors)  # the expanded parameters' come with their expansion
        columns = [] if isinstance(statement, TextClause) else list(
            statement.exported_columns)  # type: ignore[attr-defined]
        # a ``text`` statement's rows are plain tuples (read by position)
        self.row = namedtuple("Row", [column.name for column in columns]) if columns else _tuple  # type: ignore[misc]
        processors = [column.type._cached_result_processor(dialect, None) for column in columns]
        self.processed = [(i, processor) for i, processor in enumerate(processors) if processor is not None]
        compiled = self.compiled
        # a statement whose text never changes (no expanding parameter, no escaped name) skips the expansion:
        # the parameters given a value in the statement, then the call's, through their types' processors
        self.fixed = not (compiled.post_compile_params or compiled.literal_execute_params
                          or compiled.escaped_bind_names)
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        self.bound = [(name, processor) for name, processor in self.processors.items() if processor is not None]
        self.names: list[str] = []  # the fixed text's parameters, in the order of its ``$1``, ``$2``...
        self.sql = _PLACEHOLDER.sub(self._number, compiled.string) if self.fixed else ""
        from psycopg import RawCursor  # the driver of a connected PostgreSQL engine: imported already

        self.raw = RawCursor if self.fixed else None

    def _number(self, match: re.Match[str]) -> str:
        name = match[1]
        if name is None:
            return "%"
        if name not in self.names:
            self.names.append(name)
        return f"${self.names.index(name) + 1}"

    def values(self, params: Params) -> tuple[str, dict[str, Any] | list[Any]]:
        """The SQL and the parameters to send for ``params`` (positional for a fixed text)."""
        if self.fixed:
            values = self.defaults | params if self.defaults else dict(params)
            for name, processor in self.bound:
                if name in values:
                    values[name] = processor(values[name])
            return self.sql, [values[name] for name in self.names]
        state = self.compiled.construct_expanded_state(params)
        processors = self.processors | state.processors
        return state.statement, {name: processors[name](value) if processors.get(name) else value
                                 for name, value in state.parameters.items()}


class Prebuilt:
    """``statement`` (a Core statement, or ``text``), ready to run many times with different parameters."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._postgres: _Compiled | None = None

    def _run(self, connection: Connection, params: Params, fetch: Callable[[Any], Any]) -> Any:
        """Send the statement in ``connection``'s transaction; ``fetch(cursor)`` reads what it answers."""
        compiled = self._postgres
        if compiled is None:
            compiled = self._postgres = _Compiled(self.statement, connection.dialect)
        sql, values = compiled.values(params)
        dispatch = connection.dispatch
        driver = connection.connection.driver_connection
        cursor = compiled.raw(driver) if compiled.raw else driver.cursor()  # type: ignore[union-attr]
        try:
            dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
            try:
                cursor.execute(sql, values, prepare=True)
            except connection.dialect.loaded_dbapi.Error as error:
                lost = connection.dialect.is_disconnect(error, connection.connection, cursor)
                if lost:  # as SQLAlchemy does: the connection is not returned to the pool
                    connection.invalidate(error)
                raise DBAPIError.instance(sql, values, error, connection.dialect.loaded_dbapi.Error,
                                          connection_invalidated=lost, dialect=connection.dialect) from error
            dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
            return fetch(cursor)
        finally:
            cursor.close()

    def _rows(self, cursor: Any) -> list[Any]:
        compiled = self._postgres
        assert compiled is not None
        rows = cursor.fetchall()
        if compiled.processed:
            rows = [list(row) for row in rows]
            for row in rows:
                for i, processor in compiled.processed:
                    row[i] = processor(row[i])
        return [compiled.row(*row) for row in rows]

    def all(self, connection: Connection, params: Params) -> list[Any]:
        """Every row the statement answers."""
        if connection.dialect.name != "postgresql":
            return list(connection.execute(self.statement, params).all())
        return self._run(connection, params, self._rows)

    def first(self, connection: Connection, params: Params) -> Any:
        """The first row, or ``None``."""
        rows = self.all(connection, params)
        return rows[0] if rows else None

    def scalar(self, connection: Connection, params: Params) -> Any:
        """The first column of the first row, or ``None``."""
        row = self.first(connection, params)
        return row[0] if row is not None else None

    def scalars(self, connection: Connection, params: Params) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self.all(connection, params)]

    def run(self, connection: Connection, params: Params) -> int:
        """Send a statement that answers no rows; how many rows it changed."""
        if connection.dialect.name != "postgresql":
            return connection.execute(self.statement, params).rowcount
        return self._run(connection, params, lambda cursor: cursor.rowcount)
