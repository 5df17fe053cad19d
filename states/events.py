"""Reading and marking the engine events transitions recorded (``models.EngineEvent``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from models import EngineEvent
from models.db import Database


@dataclass(frozen=True)
class PendingEvent:
    id: int
    name: str
    engagement_id: int
    payload: dict[str, Any]
    created_at: datetime


def unsent_events(db: Database, limit: int = 500) -> list[PendingEvent]:
    """Events not yet published, oldest first."""
    with db.transaction() as session:
        rows = session.execute(
            select(EngineEvent.id, EngineEvent.name, EngineEvent.engagement_id, EngineEvent.payload,
                   EngineEvent.created_at)
            .where(EngineEvent.emitted_at.is_(None)).order_by(EngineEvent.id).limit(limit)
        ).all()
    return [PendingEvent(*row) for row in rows]


def mark_emitted(db: Database, event_id: int, at: datetime) -> None:
    """Record that event ``event_id`` was published (a second call changes nothing)."""
    with db.transaction() as session:
        session.execute(
            update(EngineEvent).where(EngineEvent.id == event_id, EngineEvent.emitted_at.is_(None)).values(emitted_at=at)
        )
