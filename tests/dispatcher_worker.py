"""A dispatcher for the kill tests: drains the outbox in a loop until killed (they fork it, so each
dispatcher starts at once), or until no row is pending or sending any more (the final run)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select

from models.db import Database
from models.enums import OutboxStatus
from models.outbox import OutboxMessage
from notifications.dispatcher import dispatch_pending
from settings import Settings

MAX_ATTEMPTS = Settings.model_fields["outbox_max_attempts"].default


def drain(url: str, port: int, lease: float, *, until_empty: bool = False, max_attempts: int = MAX_ATTEMPTS,
          ready: Callable[[], None] = lambda: None) -> None:
    """Dispatch in a loop (batches of 10, the default pool of connections) until killed, or until no row is
    pending or sending.

    ``ready`` is called once the database answers (the kill tests fork this, and wait for it).
    """
    db = Database(url)
    settings = Settings(smtp_port=port, smtp_timeout_seconds=5, outbox_backoff_seconds=0.1, outbox_max_attempts=max_attempts)
    unfinished = select(func.count()).where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
    with db.engine.connect() as connection:
        connection.execute(select(1))
    ready()
    try:
        while True:
            dispatch_pending(db, settings=settings, batch_size=10, lease_seconds=lease)
            if until_empty:
                with db.transaction() as session:
                    if not session.scalar(unfinished):
                        return
            time.sleep(0.02)
    finally:
        db.dispose()
