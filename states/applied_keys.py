"""What was already applied under an idempotency key: every door retries with the same key, and gets the first outcome."""

from __future__ import annotations

from sqlalchemy import Connection, Row, bindparam, select

from models import TransitionLog
from models.prebuilt import Prebuilt

LOG = TransitionLog.__table__
FIND_KEY = select(LOG.c.engagement_id, LOG.c.trigger, LOG.c.from_state, LOG.c.to_state, LOG.c.version, LOG.c.id).where(
    LOG.c.idempotency_key == bindparam("key"))
_FIND_KEY = Prebuilt(FIND_KEY)


def applied_under(connection: Connection, key: str) -> Row | None:
    """The audit row of the transition applied under ``key`` (engagement, trigger, states, version, id), if any."""
    return _FIND_KEY.first(connection, {"key": key})
