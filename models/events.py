"""Engine events: facts a transition declares (``TransitionSpec.emits``), written in its transaction.

A relay outside the domain (``flows/events.py``) publishes each row once to Prefect, where
deployment triggers start the follow-up flows; ``emitted_at`` marks the rows already published.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


class EngineEvent(Base):
    """One event (e.g. ``engage.approval.approved``) caused by one audited transition."""

    __tablename__ = "engine_events"
    __table_args__ = (Index("ix_engine_events_emitted_at_id", "emitted_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    transition_id: Mapped[int] = mapped_column(ForeignKey("transition_log.id"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    emitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
