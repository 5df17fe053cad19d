"""The transition log: one row for every change an engagement went through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime


class TransitionLog(Base):
    """Who fired which trigger, when, why, through which channel or flow run, and what it did."""

    __tablename__ = "transition_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
