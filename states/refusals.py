"""Refusals are audited too: a row in ``transition_log`` that changes nothing.

When a door refuses what a person asked for (not a co-chair of this SWG, a second decision, a
decision that is no longer needed), the refusal is written with who asked, through which channel
and why, so staff see it in ``engage history``. The row keeps the engagement's state and version
(``from_state == to_state``) and names the refused step in ``data``.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from models import Engagement, TransitionLog
from models.db import Database
from models.enums import Channel
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import NotFoundError

REFUSED = "refused"


def record_refusal(db: Database, engagement_id: int, attempted: str, actor: str, actor_role: str, reason: str,
                   channel: Channel | str, clock: Clock = SYSTEM_CLOCK, *, flow_run_id: str | None = None,
                   idempotency_key: str | None = None) -> int | None:
    """Audit that ``actor`` was refused ``attempted`` on an engagement; the log row id.

    With ``idempotency_key`` a repeated call writes nothing more and returns ``None``.
    """
    try:
        with db.transaction() as session:
            if idempotency_key and session.scalar(
                select(TransitionLog.id).where(TransitionLog.idempotency_key == idempotency_key)
            ):
                return None
            engagement = session.get(Engagement, engagement_id)
            if engagement is None:
                raise NotFoundError(f"no engagement with id {engagement_id}")
            return session.execute(insert(TransitionLog).returning(TransitionLog.id), [{
                "engagement_id": engagement_id, "trigger": REFUSED, "from_state": engagement.state,
                "to_state": engagement.state, "version": engagement.version, "actor": actor[:254],
                "actor_role": actor_role, "channel": Channel(channel).value, "flow_run_id": flow_run_id,
                "comment": reason[:2000], "data": {"attempted": attempted}, "idempotency_key": idempotency_key,
                "at": clock.now(),
            }]).scalar_one()
    except IntegrityError:  # the same refusal, recorded at the same moment by another process
        return None
