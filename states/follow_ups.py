"""The safety net of follow-ups: engagements left in a state that is followed by a step.

A decision takes its follow-up (``StateSpec.then``: an approved invitation to present is sent)
in its own transaction (``states.workflow``). If that step was refused at the time, or the data
predates it, the engagement rests in the state ("approved, not invited"). ``finish_follow_ups``
finds every such engagement and takes the step through ``apply_transition`` under the same
idempotency key (``follow_up_key``): run twice, or by two processes at once, it is taken once.
Domain only (no Prefect): the relay and the reminder sweep call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from models import Engagement
from models.db import Database
from models.enums import Channel
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import EngageError
from states.lifecycles import LIFECYCLES
from states.workflow import FOLLOW_UP_ACTOR, apply_transition, follow_up_key


@dataclass(frozen=True)
class FollowedUp:
    engagement_id: int
    trigger: str
    from_state: str
    to_state: str
    notifications: int
    replayed: bool


@dataclass
class FollowUpReport:
    done: list[FollowedUp] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.done)} unfinished follow-up(s) taken, {len(self.refused)} refused"


def follow_up_states() -> dict[tuple[str, str], str]:
    """``(kind, state) -> trigger`` for every state a step follows."""
    return {(str(kind), state.name): state.then
            for kind, lifecycle in LIFECYCLES.items() for state in lifecycle.states if state.then}


def unfinished(db: Database, limit: int = 500) -> list[tuple[int, str, str]]:
    """``(engagement id, kind, state)`` of engagements resting in a state a step follows, oldest first."""
    pairs = follow_up_states()
    if not pairs:
        return []
    with db.engine.begin() as connection:
        rows = connection.execute(
            select(Engagement.id, Engagement.kind, Engagement.state)
            .where(or_(*((Engagement.kind == kind) & (Engagement.state == state) for kind, state in pairs)))
            .order_by(Engagement.id).limit(limit)
        ).all()
    return [(row.id, str(row.kind), row.state) for row in rows]


def finish_follow_ups(db: Database, clock: Clock = SYSTEM_CLOCK, *, settings: Settings | None = None,
                      flow_run_id: str | None = None, limit: int = 500) -> FollowUpReport:
    """Take the follow-up of every engagement left without it (at most ``limit``), exactly once each."""
    report, pairs = FollowUpReport(), follow_up_states()
    for engagement_id, kind, state in unfinished(db, limit):
        trigger = pairs[(kind, state)]
        try:
            outcome = apply_transition(
                db, engagement_id, trigger, FOLLOW_UP_ACTOR, channel=Channel.FLOW, flow_run_id=flow_run_id,
                idempotency_key=follow_up_key(engagement_id, trigger), clock=clock, settings=settings,
            )
        except EngageError as error:
            report.refused.append(f"engagement {engagement_id}: {trigger} refused: {error}")
            continue
        report.done.append(FollowedUp(engagement_id, trigger, outcome.from_state, outcome.to_state,
                                      outcome.notifications, outcome.replayed))
    return report
