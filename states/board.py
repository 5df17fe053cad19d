"""What the Secretariat's board shows: engagements by kind and state, who each waits on, what is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from models import Engagement, TransitionLog
from models.db import Database
from states.intake import Claim, claims
from states.lifecycles import get_lifecycle


@dataclass(frozen=True)
class Waiting:
    engagement_id: int
    title: str
    kind: str
    state: str
    waits_on: str
    since: datetime | None
    due: datetime | None
    reminders: int
    overdue: bool


@dataclass(frozen=True)
class Board:
    counts: list[tuple[str, str, int]]
    waiting: list[Waiting]
    recent: list[TransitionLog]
    claims: dict[int, Claim]
    """Submissions whose sender only claims to be from a known organization, by engagement id."""


def board(db: Database, now: datetime, recent: int = 30) -> Board:
    """Counts by kind and state, every waiting engagement (overdue first), the latest transitions, and the
    identity claims staff have to review."""
    to_verify = {claim.engagement_id: claim for claim in claims(db)}
    with db.transaction() as session:
        counts = [tuple(row) for row in session.execute(
            select(Engagement.kind, Engagement.state, func.count()).group_by(Engagement.kind, Engagement.state)
            .order_by(Engagement.kind, Engagement.state))]
        waiting = []
        for engagement in session.scalars(select(Engagement).where(Engagement.waiting_since.is_not(None))):
            wait = get_lifecycle(engagement.kind).state(engagement.state).wait
            if wait is None:
                continue
            overdue = engagement.reminders_sent > 0 or (engagement.next_due_at is not None and engagement.next_due_at <= now)
            waiting.append(Waiting(engagement.id, engagement.title, engagement.kind, engagement.state, wait.on.value,
                                   engagement.waiting_since, engagement.next_due_at, engagement.reminders_sent, overdue))
        waiting.sort(key=lambda item: (not item.overdue, item.since or now))
        logs = session.scalars(select(TransitionLog).order_by(TransitionLog.id.desc()).limit(recent)).all()
        return Board(counts, waiting, list(logs), to_verify)  # type: ignore[arg-type]
