"""A dispatcher process for the kill test: drains the outbox in a loop until killed.

Usage: python tests/dispatcher_worker.py DATABASE_URL SMTP_PORT LEASE_SECONDS [--until-empty] [--max-attempts N]
Prints ``ready`` once imported and connected; with ``--until-empty`` it exits when no row is
pending or sending any more (waiting out the leases of rows a killed worker left behind).
The kill test forks ``drain`` instead, so each of its many dispatchers starts at once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from sqlalchemy import func, select

from models.db import Database
from models.enums import OutboxStatus
from models.outbox import OutboxMessage
from notifications.dispatcher import dispatch_pending
from settings import Settings


def drain(url: str, port: int, lease: float, *, until_empty: bool = False, max_attempts: int = 100,
          ready: Callable[[], None] = lambda: print("ready", flush=True)) -> None:
    """Dispatch in a loop (batches of 10) until killed, or until no row is pending or sending.

    ``ready`` is called once the database answers (the kill test forks this, and waits for it).
    """
    db = Database(url)
    settings = Settings(smtp_port=port, smtp_timeout_seconds=5, outbox_backoff_seconds=0.1, outbox_max_attempts=max_attempts)
    unfinished = select(func.count()).where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
    with db.engine.connect() as connection:
        connection.execute(select(1))
    ready()
    while True:
        dispatch_pending(db, settings=settings, batch_size=10, lease_seconds=lease)
        if until_empty:
            with db.transaction() as session:
                if not session.scalar(unfinished):
                    return
        time.sleep(0.02)


def main() -> None:
    url, port, lease = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    max_attempts = int(sys.argv[sys.argv.index("--max-attempts") + 1]) if "--max-attempts" in sys.argv else 100
    drain(url, port, lease, until_empty="--until-empty" in sys.argv, max_attempts=max_attempts)


if __name__ == "__main__":
    main()
