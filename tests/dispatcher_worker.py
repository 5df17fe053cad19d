"""A dispatcher process for the kill test: drains the outbox in a loop until killed.

Usage: python tests/dispatcher_worker.py DATABASE_URL SMTP_PORT LEASE_SECONDS [--until-empty] [--max-attempts N]
Prints ``ready`` once imported and connected; with ``--until-empty`` it exits when no row is
pending or sending any more (waiting out the leases of rows a killed worker left behind).
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import func, select

from models.db import Database
from models.enums import OutboxStatus
from models.outbox import OutboxMessage
from notifications.dispatcher import dispatch_pending
from settings import Settings


def main() -> None:
    url, port, lease = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    until_empty = "--until-empty" in sys.argv
    max_attempts = int(sys.argv[sys.argv.index("--max-attempts") + 1]) if "--max-attempts" in sys.argv else 100
    db = Database(url)
    settings = Settings(smtp_port=port, smtp_timeout_seconds=5, outbox_backoff_seconds=0.1, outbox_max_attempts=max_attempts)
    unfinished = select(func.count()).where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
    with db.engine.connect() as connection:
        connection.execute(select(1))
    print("ready", flush=True)
    while True:
        dispatch_pending(db, settings=settings, batch_size=10, lease_seconds=lease)
        if until_empty:
            with db.transaction() as session:
                if not session.scalar(unfinished):
                    return
        time.sleep(0.02)


if __name__ == "__main__":
    main()
