"""Notifications that failed: what staff must see after a delivery run (read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from models import OutboxMessage
from models.db import Database
from models.enums import OutboxStatus


@dataclass(frozen=True)
class DeliveryProblem:
    id: int
    engagement_id: int | None
    notification_type: str
    recipient: str
    status: str
    attempts: int
    error: str


def delivery_problems(db: Database, limit: int = 200) -> list[DeliveryProblem]:
    """Messages given up on, or waiting for another attempt after an error, newest first."""
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.engagement_id, OutboxMessage.notification_type,
                   OutboxMessage.recipient_address, OutboxMessage.status, OutboxMessage.attempts,
                   OutboxMessage.status_reason, OutboxMessage.last_error)
            .where(or_(OutboxMessage.status == OutboxStatus.DEAD,
                       (OutboxMessage.status == OutboxStatus.PENDING) & OutboxMessage.last_error.is_not(None)))
            .order_by(OutboxMessage.id.desc()).limit(limit)
        ).all()
    return [DeliveryProblem(row.id, row.engagement_id, row.notification_type, row.recipient_address, row.status,
                            row.attempts, (row.status_reason or row.last_error or "")[:300]) for row in rows]
