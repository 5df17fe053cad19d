"""Waking the long-lived workers when work is committed, instead of polling fast.

On PostgreSQL a commit that inserts outbox rows or engine events notifies the channel ``engage_work``
(a statement trigger, migration 0012; a notification is delivered at commit, so a rolled-back write
wakes nobody, and one transaction's notifications arrive as one). ``WorkSignal`` keeps one connection
listening; ``wait`` returns as soon as work was committed on any machine, or after its timeout, which
stays the safety net (a notification sent while nobody listened is not kept). On SQLite there is
nothing to listen to: ``wait`` just waits the timeout (one machine, whose workers poll).
"""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy import Connection

from models.db import Database

CHANNEL = "engage_work"


class WorkSignal:
    """Use as a context manager; ``wait(timeout, stop)`` is True when work was committed meanwhile."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._connection: Connection | None = None

    def __enter__(self) -> WorkSignal:
        if self.db.dialect == "postgresql":
            self._connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._connection.exec_driver_sql(f"LISTEN {CHANNEL}")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._connection is not None:
            self._connection.invalidate()  # never handed back to the pool still listening
            self._connection.close()
            self._connection = None

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait until work is committed (True) or ``timeout`` seconds pass or ``stop`` is set (False)."""
        stop = stop or threading.Event()
        if self._connection is None:
            stop.wait(timeout)
            return False
        listener = self._connection.connection.driver_connection
        remaining, step = timeout, min(timeout, 1.0)  # wake at least every second to see ``stop``
        while remaining > 0 and not stop.is_set():
            if any(True for _ in listener.notifies(timeout=step, stop_after=1)):
                for _ in listener.notifies(timeout=0.01):  # the rest of a burst: one round serves them all
                    pass
                return True
            remaining -= step
        return False
